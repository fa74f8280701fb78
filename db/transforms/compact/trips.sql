-- Target: {trips}, the trips of several segments of large files ({sources}: the UNION ALL of their
-- trips tables) in one table shaped like silver.trips, segment {segment}, with its indexes, attached
-- in their place by the compaction's final transaction (pipeline/transform/compact.ts).
-- Safe to run twice: one transaction (the statements go as one query); a second run builds it again.
DROP TABLE IF EXISTS {trips};
CREATE TABLE {trips} (LIKE silver.trips INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
INSERT INTO {trips} (
  ingestion_id, line_no, region_id, datasource_id, origin, destination, trip_time,
  origin_cell, destination_cell, tod_minute, origin_subcell, destination_subcell, segment)
SELECT
  t.ingestion_id, t.line_no, t.region_id, t.datasource_id, t.origin, t.destination, t.trip_time,
  t.origin_cell, t.destination_cell, t.tod_minute, t.origin_subcell, t.destination_subcell, {segment}
FROM ({sources}) AS t;
{indexes};
ANALYZE {trips};
