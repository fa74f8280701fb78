import { parentPort } from "node:worker_threads";
import { GroupSums } from "./group_sums.ts";
import { ROW_BYTES } from "./silver_rows.ts";

/**
 * The thread that sums a large file's groups (group_thread.ts starts it): it reads the silver rows the
 * loader writes, in COPY's binary format (silver_rows.ts: every row ROW_BYTES long, its fields at fixed
 * places), and answers "spill" with the sums spilled since the last answer and "finish" with all of
 * them. Messages are handled in the order sent, so an answer covers exactly the rows sent before it.
 */
const sums = new GroupSums();
const port = parentPort!;
const TWO_32 = 2 ** 32;
const TWO_21 = 2 ** 21;

port.on("message", (message: Uint8Array | { type: "spill" | "finish" }) => {
  if (message instanceof Uint8Array) return read(message);
  const rows = sums.spill(message.type === "finish");
  const buffers = [...new Set(rows.map((r) => r.buffer as ArrayBuffer))];
  port.postMessage(rows, buffers);
});

/** Adds the rows of a run of whole binary COPY rows, skipping the format's header and trailer. */
function read(bytes: Uint8Array): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let at = 0; at < bytes.length; ) {
    if (bytes[at] === 0x50) {
      at += 19; // "PGCOPY\n\xff\r\n\0", flags, header extension length
      continue;
    }
    if (v.getInt16(at) === -1) {
      at += 2;
      continue;
    }
    // Field count (2), ingestion and line (12 each), region (8), datasource (8), two points (29 each:
    // length, EWKB byte order, type, SRID, then lon and lat little-endian), time (12), cells (12 each),
    // minute (6): each value after its 4-byte length.
    const origin = v.getInt32(at + 116) * TWO_32 + v.getUint32(at + 120);
    const destination = v.getInt32(at + 128) * TWO_32 + v.getUint32(at + 132);
    sums.add(
      v.getInt32(at + 30),
      v.getInt16(at + 140),
      Math.floor(origin / TWO_21) % TWO_21,
      origin % TWO_21,
      Math.floor(destination / TWO_21) % TWO_21,
      destination % TWO_21,
      v.getFloat64(at + 55, true),
      v.getFloat64(at + 63, true),
      v.getFloat64(at + 84, true),
      v.getFloat64(at + 92, true),
      v.getInt32(at + 104),
      v.getUint32(at + 108),
    );
    at += ROW_BYTES;
  }
}
