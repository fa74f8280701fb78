-- Trips per ISO week of a period whose {end} lies in a box, edges included: one row per week (Monday),
-- zeros included. A template: api/queries.ts fills {end} and {other} with origin and destination, or
-- destination and origin. Exact, without scanning silver. api/box.ts planBox splits the work:
--   gold:  a rectangle of level-8 cells, read from gold.weekly_{end}_cells, one id range per column of
--          cells (the gold keys lead with the cell). It may hold cells the box cuts, when the box covers
--          most of them;
--   parts: rectangles of level-12 cells that correct gold to the box, read from silver.trips through
--          its level-12 cell index, each with a sign: cells of the box outside gold add, cells of gold
--          outside the box subtract. Cells wholly inside (or wholly outside) the box count all their
--          trips from the index alone (it carries trip_time and region_id: an index-only scan); cells the
--          box's edges cut count the trips inside the box for +1, outside it for -1. Which side a trip
--          is on comes from the index too, from the level-27 subcell of its point
--          (db/migrations/12_subcells.sql); only a trip whose subcell an edge runs through (about one in
--          30,000 for random coordinates, one in 2,500 for 7-decimal points against 5-decimal edges)
--          is tested by its point, read from the heap.
-- Level-12 cells of one column have consecutive ids, so each rectangle is one id range per column.
-- Each range is a LATERAL subquery fenced with OFFSET 0: always one index range scan, whatever the
-- table statistics say (a plain range join let the planner pick a nested loop over a sequential scan).
-- Parameters, by the names api/routes/stats.ts gives them (WeeklyBoxParams, weeklyBoxArgs):
--   $1 regionId int or NULL for all regions;  $2 firstWeek, $3 lastWeek date: Mondays of the first and last week;
--   $4..$7 box.west, box.south, box.east, box.north float8: the box, edges included;
--   $8..$11 gold.colLo, gold.colHi, gold.rowLo, gold.rowHi bigint: gold's level-8 columns x0..x1 and rows y0..y1
--           (x0 > x1 when none);
--   $12..$15 parts' colLo, colHi, rowLo, rowHi int[]: the parts' level-12 column and row bounds, one array each;
--   $16 parts' exact bool[];  $17 parts' sign int[] (+1 or -1);
--   the `fine` part's placeholder: weekly_box_fine.sql, the level-10 cells around gold's (with its
--           parameters $18..$21), or, for a query without them, a query of no rows (api/routes/stats.ts).
-- With level-10 counts (gold.weekly_{end}_fine, db/migrations/14), planBoxFine plans at level 10: gold
-- is then the level-8 cells wholly inside its level-10 rectangle, `fine` the level-10 cells around them,
-- and the parts correct the level-10 rectangle to the box.
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

inside AS (
  SELECT g.week, sum(g.trips) AS trips
  FROM generate_series($8::bigint, $9::bigint) AS gx
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_{end}_cells AS g
    WHERE g.cell BETWEEN (8::bigint << 42) | (gx << 21) | $10::bigint AND (8::bigint << 42) | (gx << 21) | $11::bigint
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  GROUP BY g.week
),

-- The level-10 cells around gold's (weekly_box_fine.sql), or none.
fine AS (
  {fine}
),

-- The parts' level-8 columns that hold a trip (in gold, whatever its week or region): the level-12
-- columns under the others have no trip to count, and their range probes (one per column and segment)
-- are skipped. Most of a box's edges run through empty land.
occupied AS (
  SELECT r.col_lo, r.col_hi, r.row_lo, r.row_hi, r.exact, r.sign, x8
  FROM unnest($12::int[], $13::int[], $14::int[], $15::int[], $16::bool[], $17::int[]) AS r (col_lo, col_hi, row_lo, row_hi, exact, sign)
  CROSS JOIN LATERAL generate_series(r.col_lo::bigint >> 4, r.col_hi::bigint >> 4) AS x8
  WHERE EXISTS (
    SELECT FROM gold.weekly_{end}_cells AS g
    WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi >> 4))
),

ranges AS (
  SELECT
    o.exact,
    o.sign,
    (12::bigint << 42) | (gx << 21) | o.row_lo AS lo,
    (12::bigint << 42) | (gx << 21) | o.row_hi AS hi
  FROM occupied AS o
  CROSS JOIN LATERAL generate_series(greatest(o.col_lo, o.x8 << 4), least(o.col_hi, (o.x8 << 4) | 15)) AS gx
),

-- The box's edges on the level-27 grid of the points' subcells.
edges AS (
  SELECT tripflow.column27($4::float8) AS w, tripflow.row27($5::float8) AS s,
         tripflow.column27($6::float8) AS e, tripflow.row27($7::float8) AS n
),

-- The parts' trips by week and sign; `recheck` and `other` (the trip's two cells) only for a trip whose
-- subcell an edge runs through.
scanned AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, t.recheck, t.other, s.sign, count(*) AS trips
  FROM ranges AS s
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    -- cells wholly inside (outside) the box: every trip
    (SELECT t.trip_time, NULL::bigint AS recheck, NULL::bigint AS other FROM silver.trips AS t
     WHERE NOT s.exact AND t.{end}_cell BETWEEN s.lo AND s.hi
       AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int))
    UNION ALL
    -- cells the edges cut: each trip whose subcell lies wholly on the part's side, and each whose
    -- subcell an edge runs through
    (SELECT
       t.trip_time,
       CASE WHEN tripflow.subcell_side(t.{end}_cell, t.{end}_subcell, e.w, e.s, e.e, e.n) = 0 THEN t.{end}_cell END,
       CASE WHEN tripflow.subcell_side(t.{end}_cell, t.{end}_subcell, e.w, e.s, e.e, e.n) = 0 THEN t.{other}_cell END
     FROM silver.trips AS t
     WHERE s.exact AND t.{end}_cell BETWEEN s.lo AND s.hi
       AND tripflow.subcell_side(t.{end}_cell, t.{end}_subcell, e.w, e.s, e.e, e.n) IN (0, s.sign)
       AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int))
    OFFSET 0
  ) AS t
  GROUP BY 1, 2, 3, 4
),

-- The few trips whose subcell an edge runs through, tested by their point (from the heap). Their two
-- cells find them through both cell indexes at once (a BitmapAnd: a handful of heap rows, not the
-- cell's hundreds).
rechecked AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, c.sign AS trips
  FROM (SELECT DISTINCT recheck, other, sign FROM scanned WHERE recheck IS NOT NULL) AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.{end}_cell = c.recheck AND t.{other}_cell = c.other
      AND tripflow.subcell_side(t.{end}_cell, t.{end}_subcell, e.w, e.s, e.e, e.n) = 0
      AND (ST_X(t.{end}) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.{end}) BETWEEN $5::float8 AND $7::float8) = (c.sign > 0)
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
),

weekly AS (
  SELECT week, sum(trips) AS trips FROM (
    SELECT week, trips FROM inside
    UNION ALL
    SELECT week, trips FROM fine
    UNION ALL
    SELECT week, sign * trips FROM scanned WHERE recheck IS NULL
    UNION ALL
    SELECT week, trips FROM rechecked
  ) AS w
  GROUP BY week
)

SELECT p.week::text AS week, coalesce(w.trips, 0)::bigint AS trips
FROM period AS p
LEFT JOIN weekly AS w USING (week)
ORDER BY p.week;
