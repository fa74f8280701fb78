-- Trips per ISO week of a period whose origin AND destination both lie in a box (edges included): one
-- row per week (Monday), zeros included. Gold cannot answer a joint condition, so this reads silver's
-- two level-12 cell indexes, which carry the other end's cell, trip_time and region_id. With "inner"
-- the level-12 cells wholly inside the box and "ring" those its edges cut through, three disjoint parts:
--   A  origin inner, destination inner: from the origin index alone (an index-only scan);
--   B  origin inner, destination in the ring: the destination index over the ring, destination tested;
--   C  origin in the ring: the origin index over the ring, both points tested.
-- Each id range is a LATERAL subquery fenced with OFFSET 0 (see weekly_box.sql).
-- Parameters, by the names api/routes/stats.ts gives them (WeeklyBoxBothParams, weeklyBoxBothArgs):
--   $1 regionId int or NULL for all regions;  $2 firstWeek, $3 lastWeek date: Mondays of the first and last week;
--   $4..$7 box.west, box.south, box.east, box.north float8: the box, edges included;
--   $8..$11 inner.colLo, inner.colHi, inner.rowLo, inner.rowHi bigint: the inner level-12 columns and rows
--           (col_lo > col_hi when none);
--   $12..$15 edge's colLo, colHi, rowLo, rowHi int[]: the ring's rectangles (api/box.ts splitBox's `edge`),
--           one array of level-12 column or row bounds each.
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

-- The level-12 columns of the inner rectangle and of the ring, each as one id range per column, but only
-- under level-8 columns that hold a trip of the end the range is read for (in gold, whatever its week or
-- region; see weekly_box.sql): A and C read origins, B destinations.
inner_columns AS (
  SELECT (12::bigint << 42) | (gx << 21) | $10::bigint AS lo, (12::bigint << 42) | (gx << 21) | $11::bigint AS hi
  FROM generate_series($8::bigint >> 4, $9::bigint >> 4) AS x8
  CROSS JOIN LATERAL generate_series(greatest($8::bigint, x8 << 4), least($9::bigint, (x8 << 4) | 15)) AS gx
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

matched AS (
  -- A
  SELECT t.trip_time FROM inner_columns AS c
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell BETWEEN c.lo AND c.hi
      AND ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
      AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  UNION ALL
  -- B
  SELECT t.trip_time FROM ring_columns AS c
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.destination_cell BETWEEN c.lo AND c.hi
      AND ((t.origin_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
      AND (t.origin_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
      AND ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE c.destinations
  UNION ALL
  -- C
  SELECT t.trip_time FROM ring_columns AS c
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell BETWEEN c.lo AND c.hi
      AND ST_X(t.origin) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.origin) BETWEEN $5::float8 AND $7::float8
      AND ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE c.origins
),

weekly AS (
  SELECT tripflow.iso_week(trip_time) AS week, count(*) AS trips FROM matched GROUP BY 1
)

SELECT p.week::text AS week, coalesce(w.trips, 0)::bigint AS trips
FROM period AS p
LEFT JOIN weekly AS w USING (week)
ORDER BY p.week;
