/**
 * How both commands end: their exit statuses, and what they print on stderr when they stop on an
 * error. A wrong command line, a service that cannot be reached and a refused token exit 2 (nothing
 * was done, and the fix is in the command line or the environment); an error answer of the service 1.
 */
import { UsageError } from "./args.ts";
import { ApiError, ServiceUnreachableError, TokenError } from "./http.ts";

/** Exit codes of both commands. */
export const EXIT = { ok: 0, failed: 1, usage: 2 } as const;

/**
 * Prints why `command` stopped and returns its exit status; anything that is not one of the errors
 * above is a bug and is thrown again. `describe` words an error answer of the service.
 *
 * @example reportFailure("stats", new ApiError(400, "bad_request", 'unknown region "Atlantis"'), process.stderr)
 * // prints `stats: unknown region "Atlantis"`, returns 1
 */
export function reportFailure(
  command: string,
  err: unknown,
  stderr: { write(text: string): unknown },
  describe = (e: ApiError) => e.message,
): number {
  if (err instanceof UsageError) {
    stderr.write(`${command}: ${err.message}\nRun \`npm run ${command} -- --help\` for usage.\n`);
    return EXIT.usage;
  }
  if (err instanceof ServiceUnreachableError || err instanceof TokenError) {
    stderr.write(`${command}: ${err.message}\n`);
    return EXIT.usage;
  }
  if (err instanceof ApiError) {
    stderr.write(`${command}: ${describe(err)}\n`);
    return EXIT.failed;
  }
  throw err;
}
