/**
 * Where `ingest` shows progress, on stderr: on a terminal one line per file redrawn in place (at most
 * every 100 ms), elsewhere plain lines (one per stage, and a progress line at most every 2 s), and the
 * lines that stay (outcomes, dropped streams).
 */
import type { FileProgress } from "./progress.ts";
import { fitToWidth, renderProgressLine } from "./render.ts";

/** Progress lines in plain output: at most one per file every this many ms. */
const PLAIN_EVERY_MS = 2000;
/** Redraws on a terminal: at most one every this many ms (stage changes always). */
const TTY_EVERY_MS = 100;

type Terminal = NodeJS.WriteStream & { isTTY?: boolean };

/**
 * Where progress goes: one line redrawn in place on a terminal, plain lines otherwise.
 *
 * @example const display = new Display(process.stderr, process.stderr.isTTY === true);
 */
export class Display {
  private lastDraw = 0;
  private drawn = false;
  private lastPlain = "";

  constructor(
    private readonly stream: Terminal,
    readonly tty: boolean,
  ) {}

  /** The progress line of `p`: redrawn on a terminal; in plain output at most every 2 s (or when `force`). */
  progress(p: FileProgress, force = false): void {
    const now = Date.now();
    const every = this.tty ? TTY_EVERY_MS : PLAIN_EVERY_MS;
    if (!force && now - this.lastDraw < every) return;
    this.lastDraw = now;
    const line = renderProgressLine(p.view());
    if (this.tty) {
      this.stream.write(`\r\x1b[2K${fitToWidth(line, this.stream.columns)}`);
      this.drawn = true;
    } else if (line !== this.lastPlain) {
      this.stream.write(`${line}\n`);
      this.lastPlain = line;
    }
  }

  /** Starts the plain-output clock again, so that the first progress line follows a stage line by 2 s. */
  restartClock(): void {
    if (!this.tty) this.lastDraw = Date.now();
  }

  /** A line that stays: on a terminal it replaces the progress line, which the next update draws again below. */
  line(text: string): void {
    this.stream.write(this.tty ? `\r\x1b[2K${text}\n` : `${text}\n`);
    this.drawn = false;
  }

  /** A stage line: printed in plain output only (a terminal shows the stage in the progress line). */
  stage(text: string): void {
    if (!this.tty) this.line(text);
  }

  /** Leaves the terminal's line clean (Ctrl-C, a fatal error). */
  close(): void {
    if (this.tty && this.drawn) this.stream.write("\n");
    this.drawn = false;
  }
}
