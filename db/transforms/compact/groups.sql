-- Target: {groups}, the groups of several segments of large files ({sources}: the UNION ALL of their
-- groups tables) added up into one row per group, segment {segment}, with silver.trip_groups' key,
-- attached in their place by the compaction's final transaction (pipeline/transform/compact.ts).
-- Safe to run twice: one transaction (the statements go as one query); a second run builds it again.
DROP TABLE IF EXISTS {groups};
CREATE TABLE {groups} (LIKE silver.trip_groups INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
INSERT INTO {groups} (
  region_id, origin_cell, destination_cell, slot, trips,
  sum_origin_lon, sum_origin_lat, sum_dest_lon, sum_dest_lat, first_trip_at, last_trip_at, segment)
SELECT
  g.region_id, g.origin_cell, g.destination_cell, g.slot, sum(g.trips),
  sum(g.sum_origin_lon), sum(g.sum_origin_lat), sum(g.sum_dest_lon), sum(g.sum_dest_lat),
  min(g.first_trip_at), max(g.last_trip_at), {segment}
FROM ({sources}) AS g
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;
ALTER TABLE {groups} ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);
ANALYZE {groups};
