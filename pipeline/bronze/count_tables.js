// @ts-check
// The hash tables behind a large file's weekly counts (weekly_counts.ts), and the worker thread that
// keeps them while the loader reads (counting.ts). Plain JavaScript, typed by JSDoc and checked by
// `npm run typecheck`: Node 20 cannot hand a TypeScript loader on to a worker thread, and loading one
// there (tsx and its compiler) cost 44 MB of the service's 300 MB; this module loads in 10.
import { getPriority, setPriority } from "node:os";
import { isMainThread, parentPort, workerData } from "node:worker_threads";

/** The role the counting thread is started with (its workerData's `role`; `groupSlots` and `nice` beside it). */
export const COUNTING_THREAD = "tripflow weekly counts";

/** Numbers per trip in a batch: see TripTables.addAll. */
export const KEYS_PER_TRIP = 13;

/** A CountTable gives up past this many slots (24 bytes each): 24 MiB, about 629,000 keys. */
const MAX_SLOTS = 2 ** 20;
/** The PairTable gives up past this many slots (16 bytes each): 32 MiB, about 1.47 million pairs. */
const MAX_PAIR_SLOTS = 2 ** 21;
/** Numbers per GroupTable slot: key a, key b, trips, four sums, first and last moment. */
const GROUP_WIDTH = 9;
/** The share of a GroupTable's slots it fills before it gives up (counting.ts groupSlots sizes it by it). */
export const GROUP_FILL = 0.75;
const EMPTY = -1;
/** Weeks up to 9999-12-31 fit in 19 bits: a CountTable's key `a` is region or cell × WEEK_BITS + week. */
export const WEEK_BITS = 2 ** 19;

/**
 * @template {Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer>} T
 * @typedef {{ size: number; mask: number; slots: T; sorted?: boolean }} TableParts A table's state: keys,
 * slot mask, slots, and for a CountTable whether they are its rows in order (`sortRows`).
 */

/**
 * @typedef {{
 *   whole: boolean;
 *   regions: TableParts<Float64Array<ArrayBuffer>>;
 *   origins: TableParts<Float64Array<ArrayBuffer>>;
 *   destinations: TableParts<Float64Array<ArrayBuffer>>;
 *   pairs: TableParts<Int32Array<ArrayBuffer>> | null;
 *   groups: TableParts<Float64Array<ArrayBuffer>> | null;
 * }} TablesParts TripTables' state, handed from the thread that counted to the one that writes rows.
 */

/**
 * A table given the state another thread kept (its slots taken over, not copied).
 * @template {Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer>} S
 * @template {TableParts<S>} T
 * @param {T} table
 * @param {TableParts<S>} parts
 * @returns {T}
 */
function restore(table, parts) {
  table.size = parts.size;
  table.mask = parts.mask;
  table.slots = parts.slots;
  return table;
}

/**
 * A table's state, to hand to another thread.
 * @template {Float64Array<ArrayBuffer> | Int32Array<ArrayBuffer>} S
 * @param {TableParts<S>} table
 * @returns {TableParts<S>}
 */
function partsOf(table) {
  return { size: table.size, mask: table.mask, slots: table.slots };
}

/**
 * Counts per key, a key being a whole number below 2^53 (`a`) and one below 2^32 (`b`), in an
 * open-addressing table: one Float64Array holding each slot's a, b and count side by side (one cache
 * line read per probe; no object per key). `add` returns false once the table would outgrow
 * MAX_SLOTS: the counts are then incomplete and must not be used.
 */
export class CountTable {
  size = 0;
  mask = (1 << 12) - 1;
  slots = new Float64Array((this.mask + 1) * 3).fill(EMPTY);
  /** Whether the slots are the rows in their order, densely (`sortRows`): no longer a hash table. */
  sorted = false;

  /**
   * The table as another thread kept it (`parts()` there), its slots taken over, not copied.
   * @param {TableParts<Float64Array<ArrayBuffer>>} parts
   */
  static from(parts) {
    const table = restore(new CountTable(), parts);
    table.sorted = parts.sorted === true;
    return table;
  }

  /** @returns {TableParts<Float64Array<ArrayBuffer>>} what `from` rebuilds the table with */
  parts() {
    return { ...partsOf(this), sorted: this.sorted };
  }

  /**
   * @param {number} a
   * @param {number} b
   * @returns {boolean} false once the table gave up
   */
  add(a, b) {
    const t = this.slots;
    let h = slot(a, b) & this.mask;
    for (;;) {
      const at = h * 3;
      const key = t[at];
      if (key === EMPTY) break;
      if (key === a && t[at + 1] === b) {
        t[at + 2]++;
        return true;
      }
      h = (h + 1) & this.mask;
    }
    t[h * 3] = a;
    t[h * 3 + 1] = b;
    t[h * 3 + 2] = 1;
    this.size++;
    return this.size * 5 < (this.mask + 1) * 3 || this.grow();
  }

  /**
   * Puts the keys in the order of the gold table's key they fill, densely, so that `forEach` gives them in
   * that order: `cells` (a cell table: key a = region × WEEK_BITS + week, b = the cell) by cell, week and
   * region; else (regions: a = region × WEEK_BITS + week) by a. A cell (below 2^32) and its week make
   * one exact number; a typed array of indexes sorted by it: 80,000 keys in about 20 ms, where an array
   * of indexes with a three-part comparison took 170. The counting thread does it before it hands the
   * table over, off the thread that answers the API. `add` must not be called after it.
   * @param {boolean} cells
   */
  sortRows(cells) {
    if (this.sorted) return;
    const t = this.slots;
    const first = new Float64Array(this.size);
    const from = new Uint32Array(this.size);
    let i = 0;
    for (let at = 0; at < t.length; at += 3)
      if (t[at] !== EMPTY) {
        from[i] = at;
        first[i++] = cells ? t[at + 1] * WEEK_BITS + (t[at] % WEEK_BITS) : t[at];
      }
    const order = new Uint32Array(this.size).map((_, k) => k);
    order.sort((x, y) => first[x] - first[y] || t[from[x]] - t[from[y]]);
    const dense = new Float64Array(this.size * 3);
    for (let k = 0; k < order.length; k++) dense.set(t.subarray(from[order[k]], from[order[k]] + 3), k * 3);
    this.slots = dense;
    this.mask = 0;
    this.sorted = true;
  }

  /**
   * Calls `fn` with each key and its count, in slot order (no array per key: 170,000 keys at 1 M trips).
   * @param {(a: number, b: number, count: number) => void} fn
   */
  forEach(fn) {
    const t = this.slots;
    for (let at = 0; at < t.length; at += 3) if (t[at] !== EMPTY) fn(t[at], t[at + 1], t[at + 2]);
  }

  /** @private */
  grow() {
    const slots = (this.mask + 1) * 2;
    if (slots > MAX_SLOTS) return false;
    const old = this.slots;
    this.mask = slots - 1;
    const t = new Float64Array(slots * 3).fill(EMPTY);
    this.slots = t;
    // Element by element: a subarray per key allocated on the thread's small young generation
    // (counting.ts) made the moves cost more than the counting (0.29 s of 1.3 s at 1 M trips).
    for (let from = 0; from < old.length; from += 3) {
      const a = old[from];
      if (a === EMPTY) continue;
      const b = old[from + 1];
      let h = slot(a, b) & this.mask;
      while (t[h * 3] !== EMPTY) h = (h + 1) & this.mask;
      const at = h * 3;
      t[at] = a;
      t[at + 1] = b;
      t[at + 2] = old[from + 2];
    }
    return true;
  }
}

/**
 * @param {number} a
 * @param {number} b
 */
function slot(a, b) {
  let h = Math.imul(a | 0, 0x9e3779b1) ^ Math.imul(((a / 4294967296) | 0) ^ b, 0x85ebca77);
  h ^= h >>> 15;
  return Math.imul(h, 0x2c1b3c6d) ^ (h >>> 12);
}

/**
 * The filled slots of an open-addressing table of `width` numbers a slot (an empty one starts with
 * EMPTY), from slot `from` on, each handed to `fn` as its position in `slots`, until `limit` were given
 * or slot `mask` was passed; returns the slot to go on from.
 * @template {Float64Array | Int32Array} S
 * @param {S} slots
 * @param {number} width
 * @param {number} mask
 * @param {number} from
 * @param {number} limit
 * @param {(slots: S, at: number) => void} fn
 * @returns {number}
 */
function eachSlotFrom(slots, width, mask, from, limit, fn) {
  let given = 0;
  let slot = from;
  for (; slot <= mask && given < limit; slot++) {
    const at = slot * width;
    if (slots[at] === EMPTY) continue;
    fn(slots, at);
    given++;
  }
  return slot;
}

/**
 * Trips per cell pair and week, in an open-addressing table of 16-byte slots (one Int32Array: origin
 * cell, destination cell, week and region in one number, count; no object per key): a file of 10 M
 * trips has about 770,000 pairs, kept in 32 MiB. `add` returns false once the table would outgrow
 * MAX_PAIR_SLOTS.
 */
export class PairTable {
  size = 0;
  mask = (1 << 12) - 1;
  slots = new Int32Array((this.mask + 1) * 4).fill(EMPTY);

  /** @param {TableParts<Int32Array<ArrayBuffer>>} parts */
  static from(parts) {
    return restore(new PairTable(), parts);
  }

  /** @returns {TableParts<Int32Array<ArrayBuffer>>} */
  parts() {
    return partsOf(this);
  }

  /**
   * One trip: its level-6 cells packed below 2^28, and its week and region as one int32.
   * @param {number} origin
   * @param {number} destination
   * @param {number} weekRegion
   * @returns {boolean} false once the table gave up
   */
  add(origin, destination, weekRegion) {
    const t = this.slots;
    let h = pairSlot(origin, destination, weekRegion) & this.mask;
    for (;;) {
      const at = h * 4;
      const o = t[at];
      if (o === EMPTY) break;
      if (o === origin && t[at + 1] === destination && t[at + 2] === weekRegion) {
        t[at + 3]++;
        return true;
      }
      h = (h + 1) & this.mask;
    }
    const at = h * 4;
    t[at] = origin;
    t[at + 1] = destination;
    t[at + 2] = weekRegion;
    t[at + 3] = 1;
    this.size++;
    return this.size * 10 < (this.mask + 1) * 7 || this.grow();
  }

  /**
   * Calls `fn` with each pair's slot (origin cell, destination cell, week-and-region, count at `slots[at ..
   * at + 4)`) from slot `from` on, until `limit` pairs were given or the table ends; returns the slot to
   * go on from (the number of slots when it ended).
   * @param {number} from
   * @param {number} limit
   * @param {(slots: Int32Array, at: number) => void} fn
   * @returns {number}
   */
  forEachFrom(from, limit, fn) {
    return eachSlotFrom(this.slots, 4, this.mask, from, limit, fn);
  }

  /** @private */
  grow() {
    const slots = (this.mask + 1) * 2;
    if (slots > MAX_PAIR_SLOTS) return false;
    const old = this.slots;
    this.mask = slots - 1;
    const t = new Int32Array(slots * 4).fill(EMPTY);
    this.slots = t;
    for (let from = 0; from < old.length; from += 4) {
      const origin = old[from];
      if (origin === EMPTY) continue;
      const destination = old[from + 1];
      const weekRegion = old[from + 2];
      let h = pairSlot(origin, destination, weekRegion) & this.mask;
      while (t[h * 4] !== EMPTY) h = (h + 1) & this.mask;
      const at = h * 4;
      t[at] = origin;
      t[at + 1] = destination;
      t[at + 2] = weekRegion;
      t[at + 3] = old[from + 3];
    }
    return true;
  }
}

/**
 * @param {number} origin
 * @param {number} destination
 * @param {number} weekRegion
 */
function pairSlot(origin, destination, weekRegion) {
  let h = Math.imul(origin, 0xcc9e2d51) ^ Math.imul(destination, 0x1b873593) ^ weekRegion;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/**
 * A file's groups of similar trips as silver.trip_groups keeps them (db/transforms/seal/stage_groups.sql):
 * per key, its trips, the sums of its origins' and destinations' longitudes and latitudes, its first
 * and last moment, in an open-addressing table of GROUP_WIDTH float64 per slot (no object per group).
 * The key is two whole numbers (weekly_counts.ts tripKeys packs them): `a` below 2^53, `b` below 2^32.
 * `add` returns false once the table is three quarters full: it does not grow.
 */
export class GroupTable {
  size = 0;
  mask = -1;
  slots = new Float64Array(0);

  /**
   * All its slots at once: a table that grew would keep the old slots beside the new ones until the
   * thread's next collection, half as much memory again at its peak.
   * @param {number} slots a power of two
   */
  constructor(slots) {
    if (slots <= 0) return;
    this.mask = slots - 1;
    this.slots = new Float64Array(slots * GROUP_WIDTH).fill(EMPTY);
  }

  /** @param {TableParts<Float64Array<ArrayBuffer>>} parts */
  static from(parts) {
    return restore(new GroupTable(0), parts);
  }

  /** @returns {TableParts<Float64Array<ArrayBuffer>>} */
  parts() {
    return partsOf(this);
  }

  /**
   * One trip of a group: the group's key, the trip's points and its moment (microseconds since 2000).
   * @param {Float64Array} keys the batch
   * @param {number} at where the trip's group numbers start: a, b, four coordinates, moment
   * @returns {boolean} false once the table gave up
   */
  add(keys, at) {
    const a = keys[at];
    const b = keys[at + 1];
    const moment = keys[at + 6];
    const t = this.slots;
    let h = slot(a, b) & this.mask;
    for (;;) {
      const s = h * GROUP_WIDTH;
      const key = t[s];
      if (key === EMPTY) break;
      if (key === a && t[s + 1] === b) {
        t[s + 2]++;
        t[s + 3] += keys[at + 2];
        t[s + 4] += keys[at + 3];
        t[s + 5] += keys[at + 4];
        t[s + 6] += keys[at + 5];
        if (moment < t[s + 7]) t[s + 7] = moment;
        if (moment > t[s + 8]) t[s + 8] = moment;
        return true;
      }
      h = (h + 1) & this.mask;
    }
    const s = h * GROUP_WIDTH;
    t[s] = a;
    t[s + 1] = b;
    t[s + 2] = 1;
    t[s + 3] = keys[at + 2];
    t[s + 4] = keys[at + 3];
    t[s + 5] = keys[at + 4];
    t[s + 6] = keys[at + 5];
    t[s + 7] = moment;
    t[s + 8] = moment;
    this.size++;
    return this.size < (this.mask + 1) * GROUP_FILL;
  }

  /**
   * Calls `fn` with each group's slot (its numbers at `slots[at .. at + GROUP_WIDTH)`) from slot `from`
   * on, until `limit` groups were given or the table ends; returns the slot to go on from.
   * @param {number} from
   * @param {number} limit
   * @param {(slots: Float64Array, at: number) => void} fn
   * @returns {number}
   */
  forEachFrom(from, limit, fn) {
    return eachSlotFrom(this.slots, GROUP_WIDTH, this.mask, from, limit, fn);
  }
}

/**
 * The tables a file's trips are counted into while it loads: trips per region-and-week key, per key
 * and level-8 origin cell, per key and level-8 destination cell, per cell pair (weekly_counts.ts
 * tripKeys computes the keys), and the groups of similar trips. Past a table's bound the counts give
 * up (`whole` false); the pairs and the groups give up on their own (`pairs`, `groups` null), the rest
 * staying whole.
 */
export class TripTables {
  regions = new CountTable();
  origins = new CountTable();
  destinations = new CountTable();
  /** @type {PairTable | null} */
  pairs = new PairTable();
  /** @type {GroupTable | null} */
  groups;
  whole = true;

  /** @param {number} groupSlots the groups' bound in slots (a power of two); 0: no groups are kept */
  constructor(groupSlots = 0) {
    this.groups = groupSlots > 0 ? new GroupTable(groupSlots) : null;
  }

  /** @param {TablesParts} parts */
  static from(parts) {
    const tables = new TripTables();
    tables.whole = parts.whole;
    tables.regions = CountTable.from(parts.regions);
    tables.origins = CountTable.from(parts.origins);
    tables.destinations = CountTable.from(parts.destinations);
    tables.pairs = parts.pairs && PairTable.from(parts.pairs);
    tables.groups = parts.groups && GroupTable.from(parts.groups);
    return tables;
  }

  /** @returns {{ parts: TablesParts; transfer: ArrayBuffer[] }} the state, and the buffers to transfer with it */
  parts() {
    /** @type {TablesParts} */
    const parts = {
      whole: this.whole,
      regions: this.regions.parts(),
      origins: this.origins.parts(),
      destinations: this.destinations.parts(),
      pairs: this.pairs?.parts() ?? null,
      groups: this.groups?.parts() ?? null,
    };
    const transfer = [parts.regions.slots.buffer, parts.origins.slots.buffer, parts.destinations.slots.buffer];
    if (parts.pairs) transfer.push(parts.pairs.slots.buffer);
    if (parts.groups) transfer.push(parts.groups.slots.buffer);
    return { parts, transfer };
  }

  /**
   * `n` trips, KEYS_PER_TRIP numbers each from `at`: the region-and-week key, the level-8 origin and
   * destination cells, the level-6 origin and destination cells and the pair's week-and-region int32
   * (a pair origin of -1: this trip's pair cannot be kept, and the pairs give up); then the group's
   * two keys (a first of -1: the groups give up), the origin's longitude and latitude, the
   * destination's, and the moment in microseconds since 2000.
   * @param {Float64Array} keys
   * @param {number} n
   */
  addAll(keys, n) {
    for (let at = 0; at < n * KEYS_PER_TRIP && this.whole; at += KEYS_PER_TRIP) {
      const key = keys[at];
      if (
        !this.regions.add(key, 0) ||
        !this.origins.add(key, keys[at + 1]) ||
        !this.destinations.add(key, keys[at + 2])
      )
        this.giveUp();
      const pairs = this.pairs;
      if (pairs && (keys[at + 3] === EMPTY || !pairs.add(keys[at + 3], keys[at + 4], keys[at + 5]))) this.pairs = null;
      const groups = this.groups;
      if (groups && (keys[at + 6] === EMPTY || !groups.add(keys, at + 6))) this.groups = null;
    }
  }

  giveUp() {
    this.whole = false;
    this.pairs = null;
    this.groups = null;
  }
}

/**
 * The counting thread: each batch of keys into its tables, the batch sent back to be filled again;
 * at the end, the tables (transferred, not copied).
 * @param {import("node:worker_threads").MessagePort} port
 * @param {number} groupSlots
 */
function countTrips(port, groupSlots) {
  const tables = new TripTables(groupSlots);
  port.on("message", (/** @type {{ keys: Float64Array<ArrayBuffer>; n: number } | { end: true }} */ message) => {
    if ("end" in message) {
      tables.regions.sortRows(false);
      tables.origins.sortRows(true);
      tables.destinations.sortRows(true);
      const { parts, transfer } = tables.parts();
      port.postMessage({ tables: parts }, transfer);
      port.close();
      return;
    }
    tables.addAll(message.keys, message.n);
    port.postMessage({ done: message.keys }, [message.keys.buffer]);
  });
}

if (!isMainThread && workerData?.role === COUNTING_THREAD && parentPort) {
  // This thread only (Linux keeps a nice value per thread: who = 0 is the calling one), so that the
  // API's answers, on the process's main thread and on the database, come first. Best effort.
  if (workerData.nice > 0)
    try {
      setPriority(0, Math.min(19, getPriority(0) + workerData.nice));
    } catch {}
  countTrips(parentPort, workerData.groupSlots);
}
