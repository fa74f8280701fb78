/**
 * The command line of `ingest` and `stats`: node:util's parseArgs, strict, with the options every
 * command takes (--url and -h/--help) added to its own, and UsageError, what a wrong command line
 * throws (the command prints it with a pointer to --help and exits 2).
 */
import { parseArgs, type ParseArgsConfig } from "node:util";

/** A wrong command line: printed with a pointer to --help, exit 2. */
export class UsageError extends Error {
  override name = "UsageError";
}

/** Every command talks to a service (`--url`, see resolveService) and explains itself (`--help`). */
const COMMON_OPTIONS = { url: { type: "string" }, help: { type: "boolean", short: "h" } } as const;

/**
 * node:util parseArgs, strict, over the command's options and COMMON_OPTIONS; its errors become UsageError.
 *
 * @example parseCli(["--region", "Prague"], { region: { type: "string" } }).values // { region: "Prague" }
 */
export function parseCli<T extends NonNullable<ParseArgsConfig["options"]>>(
  args: string[],
  options: T,
  allowPositionals = false,
) {
  try {
    return parseArgs({ args, options: { ...options, ...COMMON_OPTIONS }, allowPositionals, strict: true });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}
