-- Target: {finePairs}, the level-8 cell pairs of a large file's segment {segment}: trips per level-8 cell
-- of the origin, level-8 cell of the destination, ISO week and region, one row each, attached as the
-- segment's partition of gold.weekly_cell_pairs_fine (db/migrations/15_gold_fine_pairs.sql) with both
-- of its indexes.
-- Source: the segment's trips {trips}, read whole once (its origin cell index alone, once vacuumed).
-- Run by pipeline/transform/refine.ts after the segment's ingestion completed and was vacuumed, or after a
-- compaction built the segment.
-- Safe to run twice: one transaction (the statements go as one query); it builds the table again, and
-- refine.ts runs it only for a segment that has none attached.
DROP TABLE IF EXISTS {finePairs};
CREATE TABLE {finePairs} (LIKE gold.weekly_cell_pairs_fine INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
INSERT INTO {finePairs} (origin_cell, destination_cell, week, region_id, trips, segment)
SELECT tripflow.cell_parent(t.origin_cell, 8), tripflow.cell_parent(t.destination_cell, 8), tripflow.iso_week(t.trip_time),
  t.region_id, count(*), {segment}
FROM {trips} AS t
GROUP BY 1, 2, 3, 4
ORDER BY 1, 2, 3, 4;
ALTER TABLE {finePairs} ADD PRIMARY KEY (origin_cell, destination_cell, week, region_id, segment) INCLUDE (trips);
CREATE INDEX ON {finePairs} (destination_cell, origin_cell, week, region_id) INCLUDE (trips);
ALTER TABLE gold.weekly_cell_pairs_fine ATTACH PARTITION {finePairs} FOR VALUES IN ({segment});
ANALYZE {finePairs};
