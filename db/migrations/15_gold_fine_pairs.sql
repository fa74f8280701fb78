-- gold.weekly_cell_pairs_fine: trips per region, ISO week, level-8 cell of the origin and level-8 cell of
-- the destination (1/256 degree, about 430 m), for the segments of large files.
-- Why: a box question with match=both counts the trips between level-6 cells wholly inside the box from
-- gold.weekly_cell_pairs (migration 13), and every other trip with an end in the band between those cells
-- and the box's edges from silver, trip by trip; that band is up to a level-6 cell deep and held about
-- four fifths of a large both-ends answer's time at 10 M trips (docs/scalability.md). With level-8 pairs,
-- the trips whose two ends lie in level-8 cells wholly inside the box are a gold row per cell pair and
-- week, and silver is read only for a band at most a level-8 cell deep.
-- Two indexes: origin first (pairs whose origin is in the band), destination first (pairs whose
-- destination is in the band and origin in the level-6 cells inside).
-- Built after a segment's ingestion completed, not by the seal (pipeline/transform/refine.ts, like the
-- level-10 counts of migration 14), for segments of at least PAIRS_MIN_TRIPS trips: a level-8 pair holds
-- about 2.5 trips a week at 15 M, about one at 1 M, where reading it gains nothing. Segments without
-- them (segment 0 among them) are read from their trips by name (api/routes/stats.ts).
-- LIST partitions on `segment`, like the rest of gold; no default partition.
CREATE TABLE gold.weekly_cell_pairs_fine (
  origin_cell      bigint  NOT NULL,
  destination_cell bigint  NOT NULL,
  week             date    NOT NULL CHECK (extract(isodow FROM week) = 1),
  region_id        integer NOT NULL,
  trips            bigint  NOT NULL CHECK (trips > 0),
  segment          integer NOT NULL
) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_cell_pairs_fine ADD PRIMARY KEY (origin_cell, destination_cell, week, region_id, segment) INCLUDE (trips);
CREATE INDEX weekly_cell_pairs_fine_destination ON gold.weekly_cell_pairs_fine (destination_cell, origin_cell, week, region_id) INCLUDE (trips);

COMMENT ON TABLE gold.weekly_cell_pairs_fine IS 'Trips per region, ISO week (Monday), level-8 origin cell and level-8 destination cell of the segments of large files, one row per key and segment; segment 0 has none';
