/**
 * How long bulk work on the main thread (a load's reading and writing, its last transaction's rows) may
 * hold it before it lets the event loop turn. In `npm start` the API answers on the same thread: a
 * 1 MiB read is about 10,000 lines and 25–40 ms of work, and pieces of COPY data go out without the
 * loop turning until the socket is full, so a 1 M load held the thread for up to 100 ms at a time
 * (event loop delay), and a box answer's round trips to the database each waited for it.
 */
const TURN_MS = 1;

/** Lets the event loop turn (I/O callbacks: HTTP requests, database answers) once the work has held it TURN_MS. */
export class Turns {
  private since = performance.now();

  /** A promise to await when the thread has been held long enough; null (go on) otherwise. */
  due(): Promise<void> | null {
    if (performance.now() - this.since < TURN_MS) return null;
    return new Promise((resolve) =>
      setImmediate(() => {
        this.since = performance.now();
        resolve();
      }),
    );
  }
}

/**
 * `pieces` as an async iterable that lets the event loop turn between pieces every TURN_MS (a
 * generator's pieces are made as they are asked for, so making them is paced too).
 *
 * @example await pipeline(Readable.from(paced(rows)), copyStream);
 */
export async function* paced<T>(pieces: Iterable<T>): AsyncGenerator<T> {
  const turns = new Turns();
  for (const piece of pieces) {
    yield piece;
    const turn = turns.due();
    if (turn) await turn;
  }
}
