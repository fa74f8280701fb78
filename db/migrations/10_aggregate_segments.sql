-- The groups and gold become tables of segments too (LIST partitions on `segment`, as silver.trips in
-- migration 9): a sealed large file brings its own groups and weekly counts, aggregated once from its
-- own trips, and attaches them beside its silver segment (pipeline/transform/seal.ts) instead of merging
-- hundreds of thousands of rows into shared ones. Segment 0 holds what the incremental path merges,
-- chunk by chunk, as before.
-- A key (a group, a region's week, a cell's week) may therefore have one row per segment: every reader
-- adds them up (sum of the counts and coordinate sums, least first trip, greatest last trip), as it
-- already adds up cells and weeks. The primary keys end in `segment` (a key of a partitioned table must
-- hold its partition key); the incremental merges name it in their ON CONFLICT. The groups' index on
-- `trips` goes: the largest groups are now a sum over segments, which no per-row index can order.
ALTER TABLE silver.trip_groups RENAME TO trip_groups_0;
ALTER TABLE silver.trip_groups_0 ADD COLUMN segment integer NOT NULL DEFAULT 0;
ALTER TABLE silver.trip_groups_0 ADD CONSTRAINT trip_groups_0_segment CHECK (segment = 0);
ALTER TABLE silver.trip_groups_0 DROP CONSTRAINT trip_groups_pkey;
DROP INDEX silver.trip_groups_size;
CREATE TABLE silver.trip_groups (LIKE silver.trip_groups_0 INCLUDING DEFAULTS) PARTITION BY LIST (segment);
ALTER TABLE silver.trip_groups ADD CONSTRAINT trip_groups_slot_check CHECK (slot BETWEEN 0 AND 47);
ALTER TABLE silver.trip_groups ADD CONSTRAINT trip_groups_trips_check CHECK (trips > 0);
ALTER TABLE silver.trip_groups ATTACH PARTITION silver.trip_groups_0 FOR VALUES IN (0);
ALTER TABLE silver.trip_groups ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);

ALTER TABLE gold.weekly_regions RENAME TO weekly_regions_0;
ALTER TABLE gold.weekly_regions_0 ADD COLUMN segment integer NOT NULL DEFAULT 0;
ALTER TABLE gold.weekly_regions_0 ADD CONSTRAINT weekly_regions_0_segment CHECK (segment = 0);
ALTER TABLE gold.weekly_regions_0 DROP CONSTRAINT weekly_regions_pkey;
CREATE TABLE gold.weekly_regions (LIKE gold.weekly_regions_0 INCLUDING DEFAULTS) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_regions ADD CONSTRAINT weekly_regions_week_check CHECK (extract(isodow FROM week) = 1);
ALTER TABLE gold.weekly_regions ADD CONSTRAINT weekly_regions_trips_check CHECK (trips > 0);
ALTER TABLE gold.weekly_regions ATTACH PARTITION gold.weekly_regions_0 FOR VALUES IN (0);
ALTER TABLE gold.weekly_regions ADD PRIMARY KEY (region_id, week, segment);

ALTER TABLE gold.weekly_origin_cells RENAME TO weekly_origin_cells_0;
ALTER TABLE gold.weekly_origin_cells_0 ADD COLUMN segment integer NOT NULL DEFAULT 0;
ALTER TABLE gold.weekly_origin_cells_0 ADD CONSTRAINT weekly_origin_cells_0_segment CHECK (segment = 0);
ALTER TABLE gold.weekly_origin_cells_0 DROP CONSTRAINT weekly_origin_cells_pkey;
CREATE TABLE gold.weekly_origin_cells (LIKE gold.weekly_origin_cells_0 INCLUDING DEFAULTS) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_origin_cells ADD CONSTRAINT weekly_origin_cells_week_check CHECK (extract(isodow FROM week) = 1);
ALTER TABLE gold.weekly_origin_cells ADD CONSTRAINT weekly_origin_cells_trips_check CHECK (trips > 0);
ALTER TABLE gold.weekly_origin_cells ATTACH PARTITION gold.weekly_origin_cells_0 FOR VALUES IN (0);
ALTER TABLE gold.weekly_origin_cells ADD PRIMARY KEY (cell, week, region_id, segment);

ALTER TABLE gold.weekly_destination_cells RENAME TO weekly_destination_cells_0;
ALTER TABLE gold.weekly_destination_cells_0 ADD COLUMN segment integer NOT NULL DEFAULT 0;
ALTER TABLE gold.weekly_destination_cells_0 ADD CONSTRAINT weekly_destination_cells_0_segment CHECK (segment = 0);
ALTER TABLE gold.weekly_destination_cells_0 DROP CONSTRAINT weekly_destination_cells_pkey;
CREATE TABLE gold.weekly_destination_cells (LIKE gold.weekly_destination_cells_0 INCLUDING DEFAULTS) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_destination_cells ADD CONSTRAINT weekly_destination_cells_week_check CHECK (extract(isodow FROM week) = 1);
ALTER TABLE gold.weekly_destination_cells ADD CONSTRAINT weekly_destination_cells_trips_check CHECK (trips > 0);
ALTER TABLE gold.weekly_destination_cells ATTACH PARTITION gold.weekly_destination_cells_0 FOR VALUES IN (0);
ALTER TABLE gold.weekly_destination_cells ADD PRIMARY KEY (cell, week, region_id, segment);

COMMENT ON TABLE silver.trip_groups IS 'Groups of similar trips (region, level-7 origin and destination cells, 30-minute slot); one row per group and segment: add them up';
COMMENT ON TABLE gold.weekly_regions IS 'Trips per region and ISO week (Monday); one row per key and segment: add them up';
COMMENT ON TABLE gold.weekly_origin_cells IS 'Trips per region, ISO week (Monday) and level-8 cell of the origin; one row per key and segment: add them up';
COMMENT ON TABLE gold.weekly_destination_cells IS 'Trips per region, ISO week (Monday) and level-8 cell of the destination; one row per key and segment: add them up';
