-- Target: gold.weekly_regions, gold.weekly_origin_cells, gold.weekly_destination_cells,
-- gold.weekly_cell_pairs and silver.trip_groups, segment 0: takes out of each what one ingestion ($1) of the incremental path
-- merged into it, so that a failed ingestion counts nowhere. (A large file's groups and gold are
-- partitions of their own, dropped whole with its segment: pipeline/core/withdraw.ts.)
-- Source: the ingestion's silver.trips (read by primary key) and its merge markers in audit.steps: a
-- chunk's trips are taken out of a table only if that table's marker for the chunk is there (the chunk
-- of a line is (line_no - 2) / chunk_rows, as the loader cut the file).
-- Grain: one aggregate row per key the ingestion touched: deleted when the ingestion was all of it,
-- otherwise its counts and coordinate sums reduced. first_trip_at / last_trip_at of a reduced group
-- may have been the ingestion's own: those groups are returned (stale_first / stale_last) and
-- withdraw/trip_group_bounds.sql recomputes them once the ingestion's trips are gone from silver.
-- Safe to run twice? No: pipeline/core/withdraw.ts runs it once, in the transaction that deletes the markers
-- and the trips it read, holding the ingestion's lock exclusively and both aggregates' writer locks.
WITH ing AS (
  SELECT chunk_rows FROM audit.ingestions WHERE id = $1::bigint
),

merged AS (
  SELECT step, chunk FROM audit.steps
  WHERE ingestion_id = $1::bigint
    AND step IN ('gold.weekly_regions', 'gold.weekly_origin_cells', 'gold.weekly_destination_cells', 'gold.weekly_cell_pairs',
                 'silver.trip_groups')
),

trips AS MATERIALIZED (
  SELECT t.region_id, t.origin_cell, t.destination_cell, t.trip_time, t.tod_minute, t.origin, t.destination,
         ((t.line_no - 2) / ing.chunk_rows)::int AS chunk
  FROM silver.trips AS t CROSS JOIN ing
  WHERE t.segment = 0 AND t.ingestion_id = $1::bigint
),

regions AS (
  SELECT t.region_id, tripflow.iso_week(t.trip_time) AS week, count(*) AS trips
  FROM trips AS t JOIN merged AS m ON m.step = 'gold.weekly_regions' AND m.chunk = t.chunk
  GROUP BY 1, 2
),

origins AS (
  SELECT t.region_id, tripflow.iso_week(t.trip_time) AS week, tripflow.cell_parent(t.origin_cell, 8) AS cell, count(*) AS trips
  FROM trips AS t JOIN merged AS m ON m.step = 'gold.weekly_origin_cells' AND m.chunk = t.chunk
  GROUP BY 1, 2, 3
),

destinations AS (
  SELECT t.region_id, tripflow.iso_week(t.trip_time) AS week, tripflow.cell_parent(t.destination_cell, 8) AS cell, count(*) AS trips
  FROM trips AS t JOIN merged AS m ON m.step = 'gold.weekly_destination_cells' AND m.chunk = t.chunk
  GROUP BY 1, 2, 3
),

pairs AS (
  SELECT
    t.region_id, tripflow.iso_week(t.trip_time) AS week,
    tripflow.cell_parent(t.origin_cell, 6) AS origin_cell, tripflow.cell_parent(t.destination_cell, 6) AS destination_cell,
    count(*) AS trips
  FROM trips AS t JOIN merged AS m ON m.step = 'gold.weekly_cell_pairs' AND m.chunk = t.chunk
  GROUP BY 1, 2, 3, 4
),

groups AS (
  SELECT
    t.region_id,
    tripflow.cell_parent(t.origin_cell, 7) AS origin_cell,
    tripflow.cell_parent(t.destination_cell, 7) AS destination_cell,
    (t.tod_minute / 30)::smallint AS slot,
    count(*) AS trips,
    sum(ST_X(t.origin)) AS sum_origin_lon, sum(ST_Y(t.origin)) AS sum_origin_lat,
    sum(ST_X(t.destination)) AS sum_dest_lon, sum(ST_Y(t.destination)) AS sum_dest_lat,
    min(t.trip_time) AS first_trip_at, max(t.trip_time) AS last_trip_at
  FROM trips AS t JOIN merged AS m ON m.step = 'silver.trip_groups' AND m.chunk = t.chunk
  GROUP BY 1, 2, 3, 4
),

regions_gone AS (
  DELETE FROM gold.weekly_regions AS g USING regions AS w
  WHERE g.segment = 0 AND g.region_id = w.region_id AND g.week = w.week AND g.trips <= w.trips
  RETURNING w.trips
),

regions_cut AS (
  UPDATE gold.weekly_regions AS g SET trips = g.trips - w.trips FROM regions AS w
  WHERE g.segment = 0 AND g.region_id = w.region_id AND g.week = w.week AND g.trips > w.trips
  RETURNING w.trips
),

origins_gone AS (
  DELETE FROM gold.weekly_origin_cells AS g USING origins AS w
  WHERE g.segment = 0 AND g.cell = w.cell AND g.week = w.week AND g.region_id = w.region_id AND g.trips <= w.trips
  RETURNING w.trips
),

origins_cut AS (
  UPDATE gold.weekly_origin_cells AS g SET trips = g.trips - w.trips FROM origins AS w
  WHERE g.segment = 0 AND g.cell = w.cell AND g.week = w.week AND g.region_id = w.region_id AND g.trips > w.trips
  RETURNING w.trips
),

destinations_gone AS (
  DELETE FROM gold.weekly_destination_cells AS g USING destinations AS w
  WHERE g.segment = 0 AND g.cell = w.cell AND g.week = w.week AND g.region_id = w.region_id AND g.trips <= w.trips
  RETURNING w.trips
),

destinations_cut AS (
  UPDATE gold.weekly_destination_cells AS g SET trips = g.trips - w.trips FROM destinations AS w
  WHERE g.segment = 0 AND g.cell = w.cell AND g.week = w.week AND g.region_id = w.region_id AND g.trips > w.trips
  RETURNING w.trips
),

pairs_gone AS (
  DELETE FROM gold.weekly_cell_pairs AS g USING pairs AS w
  WHERE g.segment = 0 AND g.origin_cell = w.origin_cell AND g.destination_cell = w.destination_cell AND g.week = w.week
    AND g.region_id = w.region_id AND g.trips <= w.trips
  RETURNING w.trips
),

pairs_cut AS (
  UPDATE gold.weekly_cell_pairs AS g SET trips = g.trips - w.trips FROM pairs AS w
  WHERE g.segment = 0 AND g.origin_cell = w.origin_cell AND g.destination_cell = w.destination_cell AND g.week = w.week
    AND g.region_id = w.region_id AND g.trips > w.trips
  RETURNING w.trips
),

groups_gone AS (
  DELETE FROM silver.trip_groups AS g USING groups AS w
  WHERE g.segment = 0 AND g.region_id = w.region_id AND g.origin_cell = w.origin_cell AND g.destination_cell = w.destination_cell
    AND g.slot = w.slot AND g.trips <= w.trips
  RETURNING w.trips
),

groups_cut AS (
  UPDATE silver.trip_groups AS g SET
    trips = g.trips - w.trips,
    sum_origin_lon = g.sum_origin_lon - w.sum_origin_lon,
    sum_origin_lat = g.sum_origin_lat - w.sum_origin_lat,
    sum_dest_lon = g.sum_dest_lon - w.sum_dest_lon,
    sum_dest_lat = g.sum_dest_lat - w.sum_dest_lat
  FROM groups AS w
  WHERE g.segment = 0 AND g.region_id = w.region_id AND g.origin_cell = w.origin_cell AND g.destination_cell = w.destination_cell
    AND g.slot = w.slot AND g.trips > w.trips
  RETURNING g.region_id, g.origin_cell, g.destination_cell, g.slot, w.trips,
            g.first_trip_at = w.first_trip_at AS stale_first, g.last_trip_at = w.last_trip_at AS stale_last
)

SELECT
  (SELECT count(*) FROM trips)::bigint AS silver_trips,
  (SELECT coalesce(sum(trips), 0) FROM (SELECT trips FROM regions_gone UNION ALL SELECT trips FROM regions_cut) AS x)::bigint AS gold_trips,
  (SELECT coalesce(sum(trips), 0) FROM (SELECT trips FROM origins_gone UNION ALL SELECT trips FROM origins_cut) AS x)::bigint AS origin_trips,
  (SELECT coalesce(sum(trips), 0) FROM (SELECT trips FROM destinations_gone UNION ALL SELECT trips FROM destinations_cut) AS x)::bigint AS destination_trips,
  (SELECT coalesce(sum(trips), 0) FROM (SELECT trips FROM pairs_gone UNION ALL SELECT trips FROM pairs_cut) AS x)::bigint AS pair_trips,
  (SELECT coalesce(sum(trips), 0) FROM (SELECT trips FROM groups_gone UNION ALL SELECT trips FROM groups_cut) AS x)::bigint AS group_trips,
  (SELECT coalesce(array_agg(region_id), '{}') FROM groups_cut WHERE stale_first OR stale_last) AS stale_regions,
  (SELECT coalesce(array_agg(origin_cell), '{}') FROM groups_cut WHERE stale_first OR stale_last) AS stale_origins,
  (SELECT coalesce(array_agg(destination_cell), '{}') FROM groups_cut WHERE stale_first OR stale_last) AS stale_destinations,
  (SELECT coalesce(array_agg(slot), '{}') FROM groups_cut WHERE stale_first OR stale_last) AS stale_slots;
