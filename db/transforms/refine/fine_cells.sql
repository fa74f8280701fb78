-- Target: {fineOrigins} and {fineDestinations}, the level-10 counts of a large file's segment {segment}:
-- trips per level-10 cell of the origin (of the destination), ISO week and region, one row each, attached
-- as the segment's partitions of gold.weekly_origin_fine and gold.weekly_destination_fine
-- (db/migrations/14_gold_fine_cells.sql).
-- Source: the segment's trips {trips}, read whole twice (each time its cell index alone, once vacuumed:
-- cell, time and region are all in it).
-- Run by pipeline/transform/refine.ts after the segment's ingestion completed and was vacuumed, or after a
-- compaction built the segment. Box answers read a segment's trips near a box's edges at level 10 once
-- both ends are attached, from its trips until then: so both are attached at once.
-- Safe to run twice: one transaction (the statements go as one query); it builds the tables again, and
-- refine.ts runs it only for a segment that has none attached.
DROP TABLE IF EXISTS {fineOrigins}, {fineDestinations};
CREATE TABLE {fineOrigins} (LIKE gold.weekly_origin_fine INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
CREATE TABLE {fineDestinations} (LIKE gold.weekly_destination_fine INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
INSERT INTO {fineOrigins} (cell, week, region_id, trips, segment)
SELECT tripflow.cell_parent(t.origin_cell, 10), tripflow.iso_week(t.trip_time), t.region_id, count(*), {segment}
FROM {trips} AS t
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
INSERT INTO {fineDestinations} (cell, week, region_id, trips, segment)
SELECT tripflow.cell_parent(t.destination_cell, 10), tripflow.iso_week(t.trip_time), t.region_id, count(*), {segment}
FROM {trips} AS t
GROUP BY 1, 2, 3
ORDER BY 1, 2, 3;
ALTER TABLE {fineOrigins} ADD PRIMARY KEY (cell, week, region_id, segment) INCLUDE (trips);
ALTER TABLE {fineDestinations} ADD PRIMARY KEY (cell, week, region_id, segment) INCLUDE (trips);
ALTER TABLE gold.weekly_origin_fine ATTACH PARTITION {fineOrigins} FOR VALUES IN ({segment});
ALTER TABLE gold.weekly_destination_fine ATTACH PARTITION {fineDestinations} FOR VALUES IN ({segment});
ANALYZE {fineOrigins}, {fineDestinations};
