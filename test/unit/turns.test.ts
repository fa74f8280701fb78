import { describe, expect, it } from "vitest";
import { paced } from "../../pipeline/bronze/turns.ts";

/** Holds the thread for `ms`, as a piece of bulk work does. */
function busy(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end);
}

// The API answers on the thread that loads in `npm start`: bulk work must let the event loop turn
// (pipeline/bronze/turns.ts), or an HTTP request or a database answer waits for the whole of it.
describe("paced: bulk pieces that let the event loop turn", () => {
  it("runs a callback waiting for the event loop between pieces that each hold the thread longer than a turn", async () => {
    function* pieces(): Generator<number> {
      for (let i = 0; i < 5; i++) {
        busy(6);
        yield i;
      }
    }
    const seen: string[] = [];
    setImmediate(() => seen.push("event loop"));
    for await (const piece of paced(pieces())) seen.push(`piece ${piece}`);
    // The callback runs after the first piece, not after all five.
    expect(seen.indexOf("event loop")).toBeGreaterThan(0);
    expect(seen.indexOf("event loop")).toBeLessThan(3);
    expect(seen.filter((s) => s.startsWith("piece"))).toEqual([0, 1, 2, 3, 4].map((i) => `piece ${i}`));
  });

  it("does not give the turn away between quick pieces: twenty of them run before a waiting callback", async () => {
    const seen: string[] = [];
    setImmediate(() => seen.push("event loop"));
    for await (const piece of paced(Array.from({ length: 20 }, (_, i) => i))) seen.push(`piece ${piece}`);
    expect(seen).toHaveLength(20);
    await new Promise((resolve) => setImmediate(resolve));
    expect(seen.at(-1)).toBe("event loop");
  });
});
