-- Target: {groups}, a staging table of one bulk ingestion's groups of similar trips, one row per
-- (region, level-7 origin cell, level-7 destination cell, 30-minute slot), as silver.trip_groups keeps
-- them. Source: the ingestion's segment {segment}, read whole (a parallel scan).
-- Built before the seal's final transaction, beside the segment's index builds, so that the
-- transaction only merges the few aggregated rows (seal/trip_groups.sql).
-- Safe to run twice: CREATE ... AS is one statement, so the table is there whole or not at all, and a
-- second run finds it there.
-- The aggregate of a group is the one every writer of silver.trip_groups computes (silver/trip_groups.sql,
-- withdraw/aggregates.sql): the copy-paste check (npm run lint) skips it.
-- jscpd:ignore-start
CREATE UNLOGGED TABLE IF NOT EXISTS {groups} AS
SELECT
  t.region_id,
  tripflow.cell_parent(t.origin_cell, 7) AS origin_cell,
  tripflow.cell_parent(t.destination_cell, 7) AS destination_cell,
  (t.tod_minute / 30)::smallint AS slot,
  count(*) AS trips,
  sum(ST_X(t.origin)) AS sum_origin_lon,
  sum(ST_Y(t.origin)) AS sum_origin_lat,
  sum(ST_X(t.destination)) AS sum_dest_lon,
  sum(ST_Y(t.destination)) AS sum_dest_lat,
  min(t.trip_time) AS first_trip_at,
  max(t.trip_time) AS last_trip_at
FROM {segment} AS t
GROUP BY 1, 2, 3, 4;
-- jscpd:ignore-end
