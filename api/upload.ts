import { createHash, randomBytes } from "node:crypto";
import { createWriteStream } from "node:fs";
import { link, rm, unlink } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { BadRequestError, HttpError } from "./errors.ts";

/**
 * An upload's way into the landing folder, for POST /ingestions: the body is streamed to a hidden
 * temporary file (which the watcher ignores), hashed and counted on the way and refused past the size
 * limit; then linked into landing under a name that was free, never overwriting a file there.
 */

/** 413 for an upload over UPLOAD_MAX_BYTES. */
export const tooLarge = (max: number) =>
  new HttpError(413, "payload_too_large", `the upload is larger than the limit of ${max} bytes (UPLOAD_MAX_BYTES)`);

/** `name` inside `dir` (both resolved), or a 400: a file name never reaches another folder. */
function inside(dir: string, name: string): string {
  const path = resolve(dir, name);
  if (dirname(path) !== dir) throw new BadRequestError("name: must be a plain file name", "invalid_parameter");
  return path;
}

/** Streams the body to a hidden temporary file in `dir`, hashing and counting; never over `max` bytes. */
export async function receive(body: ReadableStream<Uint8Array>, dir: string, max: number) {
  const tmp = inside(dir, `.upload-${randomBytes(8).toString("hex")}.tmp`); // ignored by the watcher
  const hash = createHash("sha256");
  let size = 0;
  const count = new Transform({
    transform(chunk: Uint8Array, _encoding, done) {
      size += chunk.length;
      if (size > max) return done(tooLarge(max));
      hash.update(chunk);
      done(null, chunk);
    },
  });
  try {
    await pipeline(Readable.fromWeb(body as never), count, createWriteStream(tmp, { flags: "wx" }));
    if (size === 0) throw new BadRequestError("the request body is empty: send the CSV file", "empty_body");
  } catch (err) {
    await rm(tmp, { force: true });
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "ENOSPC" || code === "EDQUOT")
      throw new HttpError(507, "insufficient_storage", "no space left for the upload");
    if (code === "ECONNRESET" || code === "ERR_STREAM_PREMATURE_CLOSE")
      throw new BadRequestError("the upload was interrupted before its end", "upload_interrupted");
    throw err;
  }
  return { tmp, sha256: hash.digest("hex"), size };
}

/** Links the finished upload into landing under the first free name (never overwriting), then drops the temp name. */
export async function place(tmp: string, dir: string, names: string[]): Promise<string> {
  for (const name of names) {
    try {
      await link(tmp, inside(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "EEXIST") continue;
      throw err;
    }
    await unlink(tmp);
    return name;
  }
  throw new HttpError(409, "conflict", `the landing folder already holds ${names.join(" and ")}`);
}
