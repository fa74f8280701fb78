-- silver.trips becomes a table of segments (LIST partitions on `segment`), so that a large file can be
-- built as a unit: its trips go into a table of their own without indexes while it loads, and once its
-- last chunk is in, one job builds that table's indexes by sorting once, aggregates it once into the
-- groups and gold, and attaches it (pipeline/transform/seal.ts) -- instead of paying, trip by trip, for
-- four growing indexes and for upserts into the aggregates. Small files keep the incremental path into
-- segment 0. A segment of a large file is numbered by its ingestion id.
-- The parent has no primary key (it would have to include `segment`): each segment has its own on
-- (ingestion_id, line_no, region_id), and one ingestion's trips live in exactly one segment.
ALTER TABLE silver.trips RENAME TO trips_0;
ALTER TABLE silver.trips_0 ADD COLUMN segment integer NOT NULL DEFAULT 0;
ALTER TABLE silver.trips_0 ADD CONSTRAINT trips_0_segment CHECK (segment = 0);
ALTER INDEX silver.trips_pkey RENAME TO trips_0_pkey;
ALTER INDEX silver.trips_origin_cell RENAME TO trips_0_origin_cell;
ALTER INDEX silver.trips_destination_cell RENAME TO trips_0_destination_cell;
ALTER INDEX silver.trips_time_brin RENAME TO trips_0_time_brin;

CREATE TABLE silver.trips (LIKE silver.trips_0 INCLUDING DEFAULTS) PARTITION BY LIST (segment);
ALTER TABLE silver.trips ADD CONSTRAINT trips_tod_minute_check CHECK (tod_minute BETWEEN 0 AND 1439);

-- The same indexes as every segment has: attaching a segment that has them links them, nothing is built.
CREATE INDEX trips_origin_cell      ON silver.trips (origin_cell) INCLUDE (destination_cell, trip_time, region_id);
CREATE INDEX trips_destination_cell ON silver.trips (destination_cell) INCLUDE (origin_cell, trip_time, region_id);
CREATE INDEX trips_time_brin        ON silver.trips USING brin (trip_time);

ALTER TABLE silver.trips ATTACH PARTITION silver.trips_0 FOR VALUES IN (0);

-- How an ingestion is loaded, decided when its load starts (BULK_MIN_BYTES): 'incremental' (segment 0,
-- merged chunk by chunk) or 'bulk' (a segment of its own, sealed as a unit).
ALTER TABLE audit.ingestions ADD COLUMN load_mode text NOT NULL DEFAULT 'incremental'
  CHECK (load_mode IN ('incremental', 'bulk'));
