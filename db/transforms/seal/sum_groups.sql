-- Target: {groups}, one bulk ingestion's groups of similar trips in segment {segment}, as
-- stage_groups.sql builds them, from the sums its load kept instead of from its trips.
-- Source: {group_parts} (group_parts.sql), whose rows of one group are added up here; the seal reads
-- it only if its trips add up to the segment's.
-- Built beside the segment's index builds, before the final transaction.
-- Safe to run twice: one transaction (the statements go as one query); a second run builds it again.
DROP TABLE IF EXISTS {groups};
CREATE TABLE {groups} (LIKE silver.trip_groups INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
INSERT INTO {groups} (
  region_id, origin_cell, destination_cell, slot, trips,
  sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at, segment)
SELECT
  p.region_id, p.origin_cell, p.destination_cell, p.slot, sum(p.trips),
  sum(p.sum_origin_lon), sum(p.sum_origin_lat), sum(p.sum_dest_lon), sum(p.sum_dest_lat),
  min(p.first_trip_at), max(p.last_trip_at),
  {segment}
FROM {group_parts} AS p
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;
ALTER TABLE {groups} ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);
ANALYZE {groups};
