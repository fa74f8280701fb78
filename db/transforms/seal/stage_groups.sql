-- Target: {groups}, one bulk ingestion's groups of similar trips, one row per (region, level-7 origin
-- cell, level-7 destination cell, 30-minute slot), as silver.trip_groups keeps them, in segment {segment}:
-- a table shaped like silver.trip_groups, with its key, attached as its partition by the
-- seal's final transaction (pipeline/transform/seal.ts), so nothing is merged into shared rows.
-- Source: the ingestion's segment {trips}, read whole.
-- Built beside the segment's index builds, before the final transaction.
-- Safe to run twice: one transaction (the statements go as one query); a second run builds it again.
-- The aggregate of a group is the one every writer of silver.trip_groups computes (silver/trip_groups.sql,
-- withdraw/aggregates.sql): the copy-paste check (npm run lint) skips it.
DROP TABLE IF EXISTS {groups};
CREATE TABLE {groups} (LIKE silver.trip_groups INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
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
-- The parent's key (db/migrations/10): attaching links it instead of building it. The rows go in as the
-- hash aggregate hands them out: sorting them first (ORDER BY) cost more than it saved this build
-- (1 M trips: 1.87 + 0.14 s sorted, 1.34 + 0.37 s not; docs/scalability.md).
ALTER TABLE {groups} ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);
ANALYZE {groups};
