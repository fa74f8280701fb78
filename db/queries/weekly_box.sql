-- Trips per ISO week of a period whose origin (or destination) lies in a box, edges included: one row
-- per week (Monday), zeros included. Exact, without scanning silver. api/box.ts planBox splits the work:
--   gold:  a rectangle of level-8 cells, read from gold.weekly_<end>_cells, one id range per column of
--          cells (the gold keys lead with the cell). It may hold cells the box cuts, when the box covers
--          most of them;
--   parts: rectangles of level-12 cells that correct gold to the box, read from silver.trips through
--          its level-12 cell index, each with a sign: cells of the box outside gold add, cells of gold
--          outside the box subtract. Cells wholly inside (or wholly outside) the box count all their
--          trips from the index alone (it carries trip_time and region_id: an index-only scan); cells the
--          box's edges cut test each point (exact): inside the box for +1, outside it for -1.
-- Level-12 cells of one column have consecutive ids, so each rectangle is one id range per column.
-- Each range is a LATERAL subquery fenced with OFFSET 0: always one index range scan, whatever the
-- table statistics say (a plain range join let the planner pick a nested loop over a sequential scan).
-- Parameters, by the names api/routes/stats.ts gives them (WeeklyBoxParams, weeklyBoxArgs):
--   $1 regionId int or NULL for all regions;  $2 firstWeek, $3 lastWeek date: Mondays of the first and last week;
--   $4..$7 box.west, box.south, box.east, box.north float8: the box, edges included;
--   $8..$11 gold.colLo, gold.colHi, gold.rowLo, gold.rowHi bigint: gold's level-8 columns x0..x1 and rows y0..y1
--           (x0 > x1 when none);
--   $12..$15 parts' colLo, colHi, rowLo, rowHi int[]: the parts' level-12 column and row bounds, one array each;
--   $16 end text: 'origin' or 'destination';  $17 parts' exact bool[];  $18 parts' sign int[] (+1 or -1).
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

ranges AS (
  SELECT
    r.exact,
    r.sign,
    (12::bigint << 42) | (gx << 21) | r.row_lo AS lo,
    (12::bigint << 42) | (gx << 21) | r.row_hi AS hi
  FROM unnest($12::int[], $13::int[], $14::int[], $15::int[], $17::bool[], $18::int[]) AS r (col_lo, col_hi, row_lo, row_hi, exact, sign)
  CROSS JOIN LATERAL generate_series(r.col_lo::bigint, r.col_hi::bigint) AS gx
),

inside_origin AS (
  SELECT g.week, sum(g.trips) AS trips
  FROM generate_series($8::bigint, $9::bigint) AS gx
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_origin_cells AS g
    WHERE g.cell BETWEEN (8::bigint << 42) | (gx << 21) | $10::bigint AND (8::bigint << 42) | (gx << 21) | $11::bigint
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
    WHERE g.cell BETWEEN (8::bigint << 42) | (gx << 21) | $10::bigint AND (8::bigint << 42) | (gx << 21) | $11::bigint
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  WHERE $16::text = 'destination'
  GROUP BY g.week
),

fine_origin AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, sum(s.sign) AS trips
  FROM ranges AS s
  CROSS JOIN LATERAL (
    (SELECT t.trip_time FROM silver.trips AS t
     WHERE s.exact AND t.origin_cell BETWEEN s.lo AND s.hi
       AND (ST_X(t.origin) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.origin) BETWEEN $5::float8 AND $7::float8) = (s.sign > 0)
       AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int))
    UNION ALL
    (SELECT t.trip_time FROM silver.trips AS t
     WHERE NOT s.exact AND t.origin_cell BETWEEN s.lo AND s.hi
       AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int))
    OFFSET 0
  ) AS t
  WHERE $16::text = 'origin'
  GROUP BY 1
),

fine_destination AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, sum(s.sign) AS trips
  FROM ranges AS s
  CROSS JOIN LATERAL (
    (SELECT t.trip_time FROM silver.trips AS t
     WHERE s.exact AND t.destination_cell BETWEEN s.lo AND s.hi
       AND (ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8) = (s.sign > 0)
       AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int))
    UNION ALL
    (SELECT t.trip_time FROM silver.trips AS t
     WHERE NOT s.exact AND t.destination_cell BETWEEN s.lo AND s.hi
       AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int))
    OFFSET 0
  ) AS t
  WHERE $16::text = 'destination'
  GROUP BY 1
)

SELECT
  p.week::text AS week,
  (coalesce(io.trips, 0) + coalesce(id.trips, 0) + coalesce(fo.trips, 0) + coalesce(fd.trips, 0))::bigint AS trips
FROM period AS p
LEFT JOIN inside_origin AS io USING (week)
LEFT JOIN inside_destination AS id USING (week)
LEFT JOIN fine_origin AS fo USING (week)
LEFT JOIN fine_destination AS fd USING (week)
ORDER BY p.week;
