-- Target: silver.trip_groups, one row per (region, level-7 origin cell, level-7 destination cell,
-- 30-minute slot of the day).
-- Source: the silver.trips of one chunk ($1 ingestion id, lines $2..$3) in segment 0, where the
-- incremental path writes, read by primary key. The rows merge into segment 0 (the column default).
-- Safe to run twice: the marker CTE records ('silver.trip_groups', chunk $4) in audit.steps and the merge reads
-- nothing when the marker was already there; a concurrent second run waits on the marker's key and
-- then finds it. Rows merge in key order and groups jobs run one at a time (queue "groups"): no deadlock.
-- Returns whether it applied (1 or 0) and how many groups the chunk touched.
WITH marker AS (
  INSERT INTO audit.steps (ingestion_id, step, chunk) VALUES ($1::bigint, 'silver.trip_groups', $4::int)
  ON CONFLICT DO NOTHING
  RETURNING 1
),

merged AS (
  INSERT INTO silver.trip_groups AS g (
    region_id, origin_cell, destination_cell, slot, trips,
    sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at)
  SELECT
    t.region_id,
    tripflow.cell_parent(t.origin_cell, 7),
    tripflow.cell_parent(t.destination_cell, 7),
    (t.tod_minute / 30)::smallint,
    count(*),
    sum(ST_X(t.origin)), sum(ST_Y(t.origin)), sum(ST_X(t.destination)), sum(ST_Y(t.destination)),
    min(t.trip_time), max(t.trip_time)
  FROM silver.trips AS t
  WHERE t.segment = 0 AND t.ingestion_id = $1::bigint AND t.line_no BETWEEN $2::bigint AND $3::bigint
    AND EXISTS (SELECT FROM marker)
  GROUP BY 1, 2, 3, 4
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (region_id, origin_cell, destination_cell, slot, segment) DO UPDATE SET
    trips = g.trips + excluded.trips,
    sum_origin_lon = g.sum_origin_lon + excluded.sum_origin_lon,
    sum_origin_lat = g.sum_origin_lat + excluded.sum_origin_lat,
    sum_dest_lon = g.sum_dest_lon + excluded.sum_dest_lon,
    sum_dest_lat = g.sum_dest_lat + excluded.sum_dest_lat,
    first_trip_at = least(g.first_trip_at, excluded.first_trip_at),
    last_trip_at = greatest(g.last_trip_at, excluded.last_trip_at)
  RETURNING 1
)

SELECT (SELECT count(*) FROM marker)::int AS applied, (SELECT count(*) FROM merged)::int AS groups;
