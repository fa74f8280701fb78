/**
 * Hands out the lines of a byte stream (UTF-8, checked by the inspection) without their line breaks,
 * as byte ranges of the buffers read (`nextBytes`) or as text (`next`): each gives up to n lines from
 * the buffer at hand; `position` is the file offset after the lines handed out. A last line without a
 * line break is a line; an empty end after the final break is not. A buffer handed out is never
 * written again (a line cut by a read's end is joined with the next read in a new buffer).
 *
 * @example const lines = new LineSource(createReadStream(path, { start: 120 }), 120); await lines.next(1000);
 */
export class LineSource {
  position: number;
  private readonly source: AsyncIterator<Buffer>;
  private buf: Buffer = Buffer.alloc(0);
  /** Where the lines not handed out yet start in `buf`. */
  private at = 0;
  /** Where the next search for a line break starts (the bytes before it hold none). */
  private searched = 0;
  private ended = false;
  /** Lines handed out by nextBytes: [start, end) pairs in `lines.buf`. */
  private readonly bounds: number[] = [];

  constructor(stream: AsyncIterable<Buffer>, startOffset: number) {
    this.source = stream[Symbol.asyncIterator]();
    this.position = startOffset;
  }

  /** Reads until `buf` holds a whole line from `at` (or the stream's last line); false at the end. */
  private async fill(): Promise<boolean> {
    const rest = this.buf.length - this.at;
    if (rest > 0 && (this.ended || this.buf.indexOf(10, this.searched) >= 0)) return true;
    if (rest === 0 && this.ended) return false;
    // Reads until one holds a line break (or the stream ends), joined once with the cut line before
    // them: a line longer than a read is copied once, not once per read.
    const parts = rest > 0 ? [this.buf.subarray(this.at)] : [];
    for (;;) {
      const next = await this.source.next();
      if (next.done) {
        this.ended = true;
        break;
      }
      parts.push(next.value);
      if (next.value.includes(10)) break;
    }
    this.buf = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
    this.at = 0;
    this.searched = rest; // the cut line before holds no line break
    return this.buf.length > 0;
  }

  /**
   * Up to `max` lines as byte ranges of one buffer (`bounds` holds `count` [start, end) pairs), or
   * null at the end.
   */
  async nextBytes(max: number): Promise<{ buf: Buffer; bounds: readonly number[]; count: number } | null> {
    if (!(await this.fill())) return null;
    const { buf } = this;
    const bounds = this.bounds;
    let count = 0;
    let at = this.at;
    while (count < max && at < buf.length) {
      let lf = buf.indexOf(10, at);
      if (lf < 0) {
        if (!this.ended) break;
        lf = buf.length;
      }
      bounds[2 * count] = at;
      bounds[2 * count + 1] = lf;
      count++;
      at = Math.min(lf + 1, buf.length);
    }
    this.position += at - this.at;
    this.at = at;
    this.searched = at;
    return { buf, bounds, count };
  }

  /** Up to `max` lines as text, or null at the end. */
  async next(max: number): Promise<string[] | null> {
    const batch = await this.nextBytes(max);
    if (batch === null) return null;
    const lines: string[] = new Array(batch.count);
    for (let i = 0; i < batch.count; i++)
      lines[i] = batch.buf.toString("utf8", batch.bounds[2 * i], batch.bounds[2 * i + 1]);
    return lines;
  }

  async atEnd(): Promise<boolean> {
    return !(await this.fill());
  }
}
