-- Target: {gold}, a staging table of one bulk ingestion's weekly counts, in one scan of its segment
-- {segment}: one row per (region, ISO week) with origin_cell and destination_cell NULL, one per
-- (region, week, level-8 origin cell) and one per (region, week, level-8 destination cell); `kind` says
-- which ('regions', 'origins', 'destinations').
-- Built before the seal's final transaction, beside the index builds (see seal/stage_groups.sql).
-- Safe to run twice: CREATE ... AS is one statement; a second run finds the table there.
CREATE UNLOGGED TABLE IF NOT EXISTS {gold} AS
SELECT
  CASE GROUPING(s.origin_cell, s.destination_cell)
    WHEN 3 THEN 'regions' WHEN 1 THEN 'origins' ELSE 'destinations'
  END AS kind,
  s.region_id, s.week, s.origin_cell, s.destination_cell, count(*) AS trips
FROM (
  SELECT
    t.region_id,
    tripflow.iso_week(t.trip_time) AS week,
    tripflow.cell_parent(t.origin_cell, 8) AS origin_cell,
    tripflow.cell_parent(t.destination_cell, 8) AS destination_cell
  FROM {segment} AS t
) AS s
GROUP BY GROUPING SETS ((s.region_id, s.week), (s.region_id, s.week, s.origin_cell), (s.region_id, s.week, s.destination_cell));
