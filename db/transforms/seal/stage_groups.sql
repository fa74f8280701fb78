-- Target: {groups} (groups_table.sql), one row per (region, level-7 origin cell, level-7 destination
-- cell, 30-minute slot) of one bulk ingestion's segment, as silver.trip_groups keeps them.
-- Source: the ingestion's segment {trips}, read whole.
-- Built beside the segment's index builds, before the final transaction, when the load could not keep
-- the groups itself. Run as groups_table.sql, this, groups_keys.sql in one query (one transaction): a
-- second run builds it again.
-- The aggregate of a group is the one every writer of silver.trip_groups computes (silver/trip_groups.sql,
-- withdraw/aggregates.sql): the copy-paste check (npm run lint) skips it.
-- jscpd:ignore-start
INSERT INTO {groups} (
  region_id, origin_cell, destination_cell, slot, trips,
  sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at, segment)
SELECT
  t.region_id,
  tripflow.cell_parent(t.origin_cell, 7),
  tripflow.cell_parent(t.destination_cell, 7),
  (t.tod_minute / 30)::smallint,
  count(*),
  sum(ST_X(t.origin)), sum(ST_Y(t.origin)), sum(ST_X(t.destination)), sum(ST_Y(t.destination)),
  min(t.trip_time), max(t.trip_time),
  {segment}
FROM {trips} AS t
GROUP BY 1, 2, 3, 4;
-- jscpd:ignore-end
