import { createHash } from "node:crypto";
import type pg from "pg";
import type { Logger } from "pino";
import { createPool } from "../pipeline/core/db.ts";

/**
 * Connections of the box queries' own pool: as many as one `match=any` answer runs side by side (its
 * origin, its destination and the two halves of its both-ends series). More questions at once wait for
 * one of them; on two cores more connections would only share the same cores.
 */
export const BOX_CONNECTIONS = 4;

/** The application_name of those connections in pg_stat_activity (each process's own four). */
export const BOX_APPLICATION_NAME = "tripflow-boxes";

/**
 * The session settings of that pool: every statement on it runs with its generic plan. The box queries'
 * LATERAL ranges fix a plan's shape whatever the values, and planning one costs about 4–10 ms, paid by
 * each connection once instead of once per call (docs/scalability.md). Sorts are priced out
 * (`enable_sort=off`): a generic plan does not know how many trips a box's bands hold (the arrays' sizes),
 * estimates millions, and counted them by week with a sort that spilled to disk, where hashing them into
 * their hundred-odd weeks takes a few kilobytes (a thin 10 M box's origin query: 118 ms with the sort,
 * 80 ms hashed). PostgreSQL still sorts where nothing else can give the order (the weeks of the answer).
 * No other query runs on these connections.
 */
const BOX_SESSION_SETTINGS = { plan_cache_mode: "force_generic_plan", enable_sort: "off" } as const;

/**
 * The box queries' own pool on `url`: BOX_CONNECTIONS connections named `name` (BOX_APPLICATION_NAME
 * by default), with BOX_SESSION_SETTINGS, never closed for idleness.
 */
export function createBoxPool(url: string, name = BOX_APPLICATION_NAME): pg.Pool {
  return createPool(url, BOX_CONNECTIONS, name, { idleMs: 0, settings: BOX_SESSION_SETTINGS });
}

/** A box query with values that read nothing: run on a connection to have its plan made there. */
export type Warmup = { sql: string; values: unknown[] };

/**
 * The box queries (db/queries/weekly_box*.sql) as named prepared statements on a few connections of
 * their own (BOX_CONNECTIONS, BOX_SESSION_SETTINGS, never closed for idleness), whose plans are made
 * ahead of the questions: when the API starts, and again after anything that makes PostgreSQL drop
 * them (`warm()`: a segment attached or merged, finer gold built, a vacuum or an analyze of the tables
 * they read). A plan is made per connection and per statement; made while a user waits, it put 4–25 ms
 * on the first answers after each ingestion (docs/scalability.md, "Box statements planned ahead").
 *
 * The one value a generic plan cannot fold is the region ($1, NULL for all): its test
 * `($1::int IS NULL OR t.region_id = $1::int)` becomes, in the text, `($1::int IS NULL)` (tested once)
 * or `(t.region_id = $1::int)`: two statements, both made ahead.
 *
 * @example const boxes = new BoxSessions(boxPool, async () => [{ sql, values }], logger); await boxes.query(sql, values);
 */
export class BoxSessions {
  /** Statement names by text (each named by its text's hash), at most NAMES_MAX of them. */
  private readonly names = new Map<string, string>();
  private warming: Promise<void> | null = null;
  private again = false;
  private readonly log: Logger;

  constructor(
    private readonly pool: pg.Pool,
    /** The box queries the API runs now, each with values that read nothing. */
    private readonly warmups: () => Promise<Warmup[]>,
    logger: Logger,
  ) {
    this.log = logger.child({ component: "box-sessions" });
  }

  /** Runs a box query as a named statement on one of the pool's connections, with its generic plan. */
  query<R extends pg.QueryResultRow>(sql: string, values: unknown[]): Promise<pg.QueryResult<R>> {
    return this.pool.query<R>(this.statement(sql, values));
  }

  /**
   * Makes the plan of every box query the API runs now, both region forms, on every connection of the
   * pool (opened if need be), one connection after another finishing as soon as its plans are made.
   * Called while a warm-up runs, one more follows it. Never rejects: a connection that fails is
   * dropped, and a question on it later plans as it goes.
   */
  warm(): Promise<void> {
    if (this.warming) {
      this.again = true;
      return this.warming;
    }
    const run = async () => {
      do {
        this.again = false;
        const started = Date.now();
        try {
          const warmups = await this.warmups();
          const statements = warmups.flatMap((w) =>
            [null, 0].map((region) => this.statement(w.sql, [region, ...w.values.slice(1)])),
          );
          await Promise.all(
            Array.from({ length: BOX_CONNECTIONS }, async () => {
              const client = await this.pool.connect();
              try {
                for (const s of statements) await client.query(s);
                client.release();
              } catch (err) {
                client.release(err as Error); // dropped, not handed out again
                throw err;
              }
            }),
          );
          this.log.debug({ statements: statements.length, ms: Date.now() - started }, "box statements planned");
        } catch (err) {
          this.log.warn({ err }, "box statements not planned ahead; answers plan them as they go");
        }
      } while (this.again);
    };
    this.warming = run().finally(() => {
      this.warming = null;
    });
    return this.warming;
  }

  /** The named statement for `sql` with `values`: its region test folded by whether $1 is null. */
  private statement(sql: string, values: unknown[]): pg.QueryConfig {
    const text = sql.replaceAll(REGION_TEST, values[0] === null ? "($$1::int IS NULL)" : "($1.region_id = $$1::int)");
    let name = this.names.get(text);
    if (name === undefined) {
      if (this.names.size >= NAMES_MAX) this.names.clear();
      name = `box_${createHash("sha1").update(text).digest("hex").slice(0, 16)}`;
      this.names.set(text, name);
    }
    return { name, text, values };
  }
}

const REGION_TEST = /\(\$1::int IS NULL OR (\w+)\.region_id = \$1::int\)/g;
/** Texts change with the segments that lack finer gold (their table names); old names are dropped past this. */
const NAMES_MAX = 64;
