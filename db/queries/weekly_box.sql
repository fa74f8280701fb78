-- Trips per ISO week of a period whose origin (or destination) lies in a box, edges included: one row
-- per week (Monday), zeros included. Exact, without scanning silver:
--   inside: level-7 cells wholly inside the box, read from gold.weekly_<end>_cells, one id range per
--           column of cells (the gold keys lead with the cell);
--   edges:  the four strips of the box outside those cells (disjoint rectangles of level-12 cells),
--           read from silver.trips through the btree on the level-12 cell, one id range per column,
--           each point tested against the box itself.
-- The TypeScript caller (api/routes/stats.ts) computes the cell rectangles from the box. Each id range
-- is a LATERAL subquery fenced with OFFSET 0, so that it is always one index range scan, whatever the
-- table statistics say (a plain range join let the planner pick a nested loop over a sequential scan).
-- $1 region id or NULL, $2 / $3 Mondays of the first / last week, $4..$7 west, south, east, north,
-- $8..$11 inside level-7 columns x0..x1 and rows y0..y1 (x0 > x1 when none), $12..$15 the strips as
-- arrays of level-12 column and row bounds, $16 'origin' or 'destination'.
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

strips AS (
  SELECT
    (12::bigint << 42) | (gx << 21) | r.row_lo AS lo,
    (12::bigint << 42) | (gx << 21) | r.row_hi AS hi
  FROM unnest($12::int[], $13::int[], $14::int[], $15::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
  CROSS JOIN LATERAL generate_series(r.col_lo::bigint, r.col_hi::bigint) AS gx
),

inside_origin AS (
  SELECT g.week, sum(g.trips) AS trips
  FROM generate_series($8::bigint, $9::bigint) AS gx
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_origin_cells AS g
    WHERE g.cell BETWEEN (7::bigint << 42) | (gx << 21) | $10::bigint AND (7::bigint << 42) | (gx << 21) | $11::bigint
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  WHERE $16::text = 'origin'
  GROUP BY g.week
),

inside_destination AS (
  SELECT g.week, sum(g.trips) AS trips
  FROM generate_series($8::bigint, $9::bigint) AS gx
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_destination_cells AS g
    WHERE g.cell BETWEEN (7::bigint << 42) | (gx << 21) | $10::bigint AND (7::bigint << 42) | (gx << 21) | $11::bigint
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  WHERE $16::text = 'destination'
  GROUP BY g.week
),

edge_origin AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, count(*) AS trips
  FROM strips AS s
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell BETWEEN s.lo AND s.hi
      AND ST_X(t.origin) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.origin) BETWEEN $5::float8 AND $7::float8
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7
      AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE $16::text = 'origin'
  GROUP BY 1
),

edge_destination AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, count(*) AS trips
  FROM strips AS s
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.destination_cell BETWEEN s.lo AND s.hi
      AND ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7
      AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE $16::text = 'destination'
  GROUP BY 1
)

SELECT
  p.week::text AS week,
  (coalesce(io.trips, 0) + coalesce(id.trips, 0) + coalesce(eo.trips, 0) + coalesce(ed.trips, 0))::bigint AS trips
FROM period AS p
LEFT JOIN inside_origin AS io USING (week)
LEFT JOIN inside_destination AS id USING (week)
LEFT JOIN edge_origin AS eo USING (week)
LEFT JOIN edge_destination AS ed USING (week)
ORDER BY p.week;
