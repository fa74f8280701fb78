/**
 * Errors that decide what happens to an ingestion: retried (the cause goes away by itself) or final
 * (the ingestion fails at once with the message, and what it stored is withdrawn).
 */

/** The landing file is not the one that was registered: it grew, shrank, or its bytes differ. */
export class FileChangedError extends Error {
  override name = "FileChangedError";
}

/** The ingestion ended (failed, withdrawn) while a step was still working on it: stop quietly. */
export class IngestionEndedError extends Error {
  override name = "IngestionEndedError";
}

// SQLSTATE classes and codes that a retry can outlive: a lost connection (08), a deadlock or
// serialization failure (40), a server out of resources or connections (53), the server shutting down
// or starting (57P01..57P05), a lock not available (55P03), the system (58).
const TRANSIENT_CLASSES = ["08", "40", "53", "58"];
const TRANSIENT_CODES = ["57P01", "57P02", "57P03", "57P04", "57P05", "55P03", "55000"];
const TRANSIENT_NODE_CODES = [
  "ECONNRESET",
  "ECONNREFUSED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENOTCONN",
  "EAI_AGAIN",
];
// node-postgres reports a connection lost between queries by message only.
const TRANSIENT_MESSAGES =
  /Connection terminated|connection error|terminating connection|server closed the connection|timeout exceeded when trying to connect|Client was closed/i;

/**
 * True when an error comes from the database being unreachable or busy for a moment (a restart, a
 * terminated backend, a deadlock), so that running the same step again later can succeed. Anything else
 * (a constraint violation, a value PostgreSQL refuses, a bug) is final: retrying changes nothing.
 */
export function isTransient(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === "BronzeChunkMissingError") return true;
  const code = (err as { code?: unknown }).code;
  if (typeof code === "string") {
    if (TRANSIENT_NODE_CODES.includes(code) || TRANSIENT_CODES.includes(code)) return true;
    if (/^[0-9A-Z]{5}$/.test(code)) return TRANSIENT_CLASSES.includes(code.slice(0, 2));
  }
  return TRANSIENT_MESSAGES.test(err.message);
}

/** An error's message for an audit row: one line, at most 1,000 characters. */
export function describeError(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const code = (err as { code?: unknown } | null)?.code;
  const line = message.replace(/\s+/g, " ").trim();
  const text = typeof code === "string" && !line.includes(code) ? `${line} (${code})` : line;
  return text.length > 1000 ? `${text.slice(0, 997)}...` : text;
}
