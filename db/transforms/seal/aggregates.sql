-- Target: silver.trip_groups, gold.weekly_regions, gold.weekly_origin_cells and
-- gold.weekly_destination_cells: one bulk ingestion's staged aggregates ({groups}, {gold}; see
-- seal/stage_*.sql) merged in, as the per-chunk transforms merge a chunk (counts and sums added,
-- first and last trips widened), in key order.
-- Runs in the seal's final transaction, with the segment's attach and the ingestion's completion: the
-- file's trips appear in silver, the groups and gold at once. Safe to run twice? No: the
-- 'silver.sealed' marker, written in the same transaction, keeps a second seal from getting here.
-- Returns the rows merged into each table.
-- The merge into silver.trip_groups is the one of silver/trip_groups.sql, from staged rows: the
-- copy-paste check (npm run lint) skips it.
-- jscpd:ignore-start
WITH groups AS (
  INSERT INTO silver.trip_groups AS g (
    region_id, origin_cell, destination_cell, slot, trips,
    sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at)
  SELECT
    s.region_id, s.origin_cell, s.destination_cell, s.slot, s.trips,
    s.sum_origin_lon, s.sum_origin_lat, s.sum_dest_lon, s.sum_dest_lat, s.first_trip_at, s.last_trip_at
  FROM {groups} AS s
  ORDER BY 1, 2, 3, 4
  ON CONFLICT (region_id, origin_cell, destination_cell, slot) DO UPDATE SET
    trips = g.trips + excluded.trips,
    sum_origin_lon = g.sum_origin_lon + excluded.sum_origin_lon,
    sum_origin_lat = g.sum_origin_lat + excluded.sum_origin_lat,
    sum_dest_lon = g.sum_dest_lon + excluded.sum_dest_lon,
    sum_dest_lat = g.sum_dest_lat + excluded.sum_dest_lat,
    first_trip_at = least(g.first_trip_at, excluded.first_trip_at),
    last_trip_at = greatest(g.last_trip_at, excluded.last_trip_at)
  RETURNING 1
),
-- jscpd:ignore-end

regions AS (
  INSERT INTO gold.weekly_regions AS g (region_id, week, trips)
  SELECT s.region_id, s.week, s.trips FROM {gold} AS s WHERE s.kind = 'regions'
  ORDER BY 1, 2
  ON CONFLICT (region_id, week) DO UPDATE SET trips = g.trips + excluded.trips
  RETURNING 1
),

origins AS (
  INSERT INTO gold.weekly_origin_cells AS g (region_id, week, cell, trips)
  SELECT s.region_id, s.week, s.origin_cell, s.trips FROM {gold} AS s WHERE s.kind = 'origins'
  ORDER BY 3, 2, 1
  ON CONFLICT (cell, week, region_id) DO UPDATE SET trips = g.trips + excluded.trips
  RETURNING 1
),

destinations AS (
  INSERT INTO gold.weekly_destination_cells AS g (region_id, week, cell, trips)
  SELECT s.region_id, s.week, s.destination_cell, s.trips FROM {gold} AS s WHERE s.kind = 'destinations'
  ORDER BY 3, 2, 1
  ON CONFLICT (cell, week, region_id) DO UPDATE SET trips = g.trips + excluded.trips
  RETURNING 1
)

SELECT
  (SELECT count(*) FROM groups)::bigint AS groups,
  (SELECT count(*) FROM regions)::bigint AS regions,
  (SELECT count(*) FROM origins)::bigint AS origins,
  (SELECT count(*) FROM destinations)::bigint AS destinations;
