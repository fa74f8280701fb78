-- Target: {regions}, {origins} and {destinations}, one bulk ingestion's weekly counts in segment {segment}:
-- one row per (region, ISO week), per (region, week, level-8 origin cell) and per (region, week,
-- level-8 destination cell), in tables shaped like gold.weekly_regions, gold.weekly_origin_cells and
-- gold.weekly_destination_cells, with their keys, attached as their partitions by the seal's final
-- transaction (pipeline/transform/seal.ts).
-- Source: the ingestion's segment {trips}, in one scan (three grouping sets).
-- Built beside the segment's index builds, before the final transaction (see seal/stage_groups.sql).
-- Run as gold_tables.sql, this, gold_keys.sql in one query (one transaction): a second run builds them again.
WITH counted AS MATERIALIZED (
  SELECT
    GROUPING(s.origin_cell, s.destination_cell) AS kind, -- 3: regions, 1: origins, 2: destinations
    s.region_id, s.week, s.origin_cell, s.destination_cell, count(*) AS trips
  FROM (
    SELECT
      t.region_id,
      tripflow.iso_week(t.trip_time) AS week,
      tripflow.cell_parent(t.origin_cell, 8) AS origin_cell,
      tripflow.cell_parent(t.destination_cell, 8) AS destination_cell
    FROM {trips} AS t
  ) AS s
  GROUP BY GROUPING SETS ((s.region_id, s.week), (s.region_id, s.week, s.origin_cell), (s.region_id, s.week, s.destination_cell))
),

regions AS (
  INSERT INTO {regions} (region_id, week, trips, segment)
  SELECT c.region_id, c.week, c.trips, {segment} FROM counted AS c WHERE c.kind = 3 ORDER BY 1, 2
),

origins AS (
  INSERT INTO {origins} (region_id, week, cell, trips, segment)
  SELECT c.region_id, c.week, c.origin_cell, c.trips, {segment} FROM counted AS c WHERE c.kind = 1 ORDER BY 3, 2, 1
)

INSERT INTO {destinations} (region_id, week, cell, trips, segment)
SELECT c.region_id, c.week, c.destination_cell, c.trips, {segment} FROM counted AS c WHERE c.kind = 2 ORDER BY 3, 2, 1;

