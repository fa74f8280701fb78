-- Trips per ISO week of a period whose {end} lies in level-10 cells (rectangles of them), one row per trip
-- or per level-10 count: weekly_box.sql's `fine` part, when planned at level 10 (api/box.ts planBoxFine).
-- A template on the trip's end (api/queries.ts) and on the tables of unrefined trips (api/routes/stats.ts).
-- The level-10 counts of the segments that have them (gold.weekly_{end}_fine, db/migrations/14), one id
-- range per level-10 column; and the trips of the segments without them (the placeholder: segment 0's
-- silver.trips_0 and the smaller large files' segments, by name), four level-12 columns per level-10
-- column through their cell index. Every trip counts: these cells lie wholly inside the box's level-10
-- rectangle, which weekly_box.sql's parts correct to the box.
-- Parameters: weekly_box.sql's $1..$3 (region, first and last week), and
--   $18..$21 colLo, colHi, rowLo, rowHi int[]: the rectangles of level-10 cells, one array per field.
SELECT g.week, g.trips
FROM unnest($18::int[], $19::int[], $20::int[], $21::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
CROSS JOIN LATERAL generate_series(r.col_lo::bigint, r.col_hi::bigint) AS fx
CROSS JOIN LATERAL (
  SELECT g.week, g.trips FROM gold.weekly_{end}_fine AS g
  WHERE g.cell BETWEEN (10::bigint << 42) | (fx << 21) | r.row_lo AND (10::bigint << 42) | (fx << 21) | r.row_hi
    AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
  OFFSET 0
) AS g
UNION ALL
SELECT tripflow.iso_week(t.trip_time), 1
FROM unnest($18::int[], $19::int[], $20::int[], $21::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
CROSS JOIN LATERAL generate_series(r.col_lo::bigint << 2, (r.col_hi::bigint << 2) | 3) AS gx
CROSS JOIN LATERAL (
  SELECT t.trip_time FROM {unrefined} AS t
  WHERE t.{end}_cell BETWEEN (12::bigint << 42) | (gx << 21) | (r.row_lo::bigint << 2) AND (12::bigint << 42) | (gx << 21) | ((r.row_hi::bigint << 2) | 3)
    AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
  OFFSET 0
) AS t
