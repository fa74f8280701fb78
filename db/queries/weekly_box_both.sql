-- Trips per ISO week of a period whose origin AND destination both lie in a box (edges included): one
-- row per week (Monday), zeros included. Gold cannot answer a joint condition, so this reads silver's
-- two level-12 cell indexes, which carry the other end's cell, trip_time, region_id and their own end's
-- level-27 subcell (db/migrations/12_subcells.sql). With "inner" the level-12 cells wholly inside the
-- box and "ring" those its edges cut through, three disjoint parts, each from an index alone:
--   A  origin inner, destination inner: the origin index over the inner cells;
--   B  origin inner, destination in the ring: the destination index over the ring, the destination's
--      side from its subcell;
--   C  origin in the ring, destination inner or in the ring: the origin index over the ring, the
--      origin's side from its subcell, the destination's from its cell when that is inner.
-- A trip of B or C that the indexes cannot decide (a subcell an edge runs through, or both ends in the
-- ring: about one in a hundred of the ring's) is tested by its points, read from the heap.
-- Each id range is a LATERAL subquery fenced with OFFSET 0 (see weekly_box.sql).
-- Parameters, by the names api/routes/stats.ts gives them (WeeklyBoxBothParams, weeklyBoxBothArgs):
--   $1 regionId int or NULL for all regions;  $2 firstWeek, $3 lastWeek date: Mondays of the first and last week;
--   $4..$7 box.west, box.south, box.east, box.north float8: the box, edges included;
--   $8..$11 inner.colLo, inner.colHi, inner.rowLo, inner.rowHi bigint: the inner level-12 columns and rows
--           (col_lo > col_hi when none);
--   $12..$15 edge's colLo, colHi, rowLo, rowHi int[]: the ring's rectangles (api/box.ts splitBox's `edge`),
--           one array of level-12 column or row bounds each;
--   $16, $17 part.colLo, part.colHi bigint: the inner columns whose A this query counts (a part of $8..$9);
--   $18 part.ring bool: whether it counts B and C.
-- So one answer can be two queries side by side, on both cores: A's columns split between them, the
-- ring with one of them; each trip is counted by exactly one (api/routes/stats.ts bothSeries).
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

-- The level-12 columns of the inner rectangle and of the ring, each as one id range per column, but only
-- under level-8 columns that hold a trip of the end the range is read for (in gold, whatever its week or
-- region; see weekly_box.sql): A and C read origins, B destinations.
inner_columns AS (
  SELECT (12::bigint << 42) | (gx << 21) | $10::bigint AS lo, (12::bigint << 42) | (gx << 21) | $11::bigint AS hi
  FROM generate_series($16::bigint >> 4, $17::bigint >> 4) AS x8
  CROSS JOIN LATERAL generate_series(greatest($16::bigint, x8 << 4), least($17::bigint, (x8 << 4) | 15)) AS gx
  WHERE EXISTS (
    SELECT FROM gold.weekly_origin_cells AS g
    WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | ($10::bigint >> 4) AND (8::bigint << 42) | (x8 << 21) | ($11::bigint >> 4))
),

ring AS (
  SELECT
    r.col_lo::bigint AS col_lo, r.col_hi::bigint AS col_hi, r.row_lo::bigint AS row_lo, r.row_hi::bigint AS row_hi, x8,
    EXISTS (
      SELECT FROM gold.weekly_origin_cells AS g
      WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi >> 4)
    ) AS origins,
    EXISTS (
      SELECT FROM gold.weekly_destination_cells AS g
      WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi >> 4)
    ) AS destinations
  FROM unnest($12::int[], $13::int[], $14::int[], $15::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
  CROSS JOIN LATERAL generate_series(r.col_lo::bigint >> 4, r.col_hi::bigint >> 4) AS x8
  WHERE $18::bool
),

ring_columns AS (
  SELECT
    (12::bigint << 42) | (gx << 21) | r.row_lo AS lo,
    (12::bigint << 42) | (gx << 21) | r.row_hi AS hi,
    r.origins,
    r.destinations
  FROM ring AS r
  CROSS JOIN LATERAL generate_series(greatest(r.col_lo, r.x8 << 4), least(r.col_hi, (r.x8 << 4) | 15)) AS gx
  WHERE r.origins OR r.destinations
),

-- The box's edges on the level-27 grid of the points' subcells, and its level-12 columns and rows.
edges AS (
  SELECT
    tripflow.column27($4::float8) AS w, tripflow.row27($5::float8) AS s,
    tripflow.column27($6::float8) AS e, tripflow.row27($7::float8) AS n,
    tripflow.column27($4::float8) >> 15 AS col_lo, tripflow.column27($6::float8) >> 15 AS col_hi,
    tripflow.row27($5::float8) >> 15 AS row_lo, tripflow.row27($7::float8) >> 15 AS row_hi
),

-- A: both cells inner, from the origin index alone.
inner_trips AS (
  SELECT t.trip_time FROM inner_columns AS c
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell BETWEEN c.lo AND c.hi
      AND ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
      AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
),

-- B and C: each trip counted from the indexes alone (origin and destination null), or the two cells of
-- one that only its points can decide.
ring_trips AS (
  -- B: the destination's side from its subcell
  SELECT t.trip_time, t.origin, t.destination FROM ring_columns AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT
      t.trip_time,
      CASE WHEN tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) = 0 THEN t.origin_cell END AS origin,
      CASE WHEN tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) = 0 THEN t.destination_cell END AS destination
    FROM silver.trips AS t
    WHERE t.destination_cell BETWEEN c.lo AND c.hi
      AND ((t.origin_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
      AND (t.origin_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
      AND tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) >= 0
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE c.destinations
  UNION ALL
  -- C: the origin's side from its subcell; the destination's from its cell when that is inner
  SELECT t.trip_time, t.origin, t.destination FROM ring_columns AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT
      t.trip_time,
      CASE WHEN NOT t.counted THEN t.origin_cell END AS origin,
      CASE WHEN NOT t.counted THEN t.destination_cell END AS destination
    FROM (
      SELECT
        t.trip_time, t.origin_cell, t.destination_cell,
        tripflow.subcell_side(t.origin_cell, t.origin_subcell, e.w, e.s, e.e, e.n) = 1
          AND ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
          AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint AS counted
      FROM silver.trips AS t
      WHERE t.origin_cell BETWEEN c.lo AND c.hi
        AND tripflow.subcell_side(t.origin_cell, t.origin_subcell, e.w, e.s, e.e, e.n) >= 0
        AND ((t.destination_cell >> 21) & 2097151) BETWEEN e.col_lo AND e.col_hi
        AND (t.destination_cell & 2097151) BETWEEN e.row_lo AND e.row_hi
        AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
      OFFSET 0
    ) AS t
  ) AS t
  WHERE c.origins
),

-- A trip of B or C that only its points can decide: found again by its two cells through both cell
-- indexes at once (a BitmapAnd), counted if both points lie in the box and the indexes did not count it
-- (both subcells wholly inside and one of the cells inner).
rechecked AS (
  SELECT t.trip_time
  FROM (SELECT DISTINCT origin, destination FROM ring_trips WHERE origin IS NOT NULL) AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell = c.origin AND t.destination_cell = c.destination
      AND ST_X(t.origin) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.origin) BETWEEN $5::float8 AND $7::float8
      AND ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8
      AND NOT (
        tripflow.subcell_side(t.origin_cell, t.origin_subcell, e.w, e.s, e.e, e.n) = 1
        AND tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) = 1
        AND (((t.origin_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint AND (t.origin_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
          OR ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint))
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
),

weekly AS (
  SELECT week, sum(trips) AS trips FROM (
    SELECT tripflow.iso_week(trip_time) AS week, count(*) AS trips FROM inner_trips GROUP BY 1
    UNION ALL
    SELECT tripflow.iso_week(trip_time), count(*) FROM ring_trips WHERE origin IS NULL GROUP BY 1
    UNION ALL
    SELECT tripflow.iso_week(trip_time), count(*) FROM rechecked GROUP BY 1
  ) AS w
  GROUP BY week
)

SELECT p.week::text AS week, coalesce(w.trips, 0)::bigint AS trips
FROM period AS p
LEFT JOIN weekly AS w USING (week)
ORDER BY p.week;
