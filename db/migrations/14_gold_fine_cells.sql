-- gold.weekly_origin_fine and gold.weekly_destination_fine: trips per region, ISO week and level-10 cell
-- (1/1024 degree, about 110 m) of the origin or of the destination, for the segments of large files.
-- Why: a one-end box question counts the level-8 cells wholly inside the box from gold and the bands
-- between them and the box's edges trip by trip from silver's cell indexes; a band is up to a level-8
-- cell wide. With level-10 counts beside, the bands narrow to at most a level-10 cell (a quarter), and
-- the level-10 cells between are a gold row per cell and week. At 100 M trips a slow box read about
-- 240,000 index entries in its bands (docs/scalability.md). Level 10 holds about 1.4 % of the trips'
-- rows at 100 M (a row per cell and week), but nearly one row per trip at 1 M, where it gains nothing.
-- Built after a segment's ingestion completed, not by the seal: its aggregate over 100 M trips would
-- lengthen the ingestion by minutes (pipeline/transform/refine.ts, run after each maintenance run).
-- Until every segment has them, box answers use level 8 alone (api/routes/stats.ts); segment 0 (the
-- incremental path) never has them: its trips in those cells are read from its own cell indexes.
-- LIST partitions on `segment`, like the rest of gold; no default partition.
CREATE TABLE gold.weekly_origin_fine (
  cell      bigint  NOT NULL,
  week      date    NOT NULL CHECK (extract(isodow FROM week) = 1),
  region_id integer NOT NULL,
  trips     bigint  NOT NULL CHECK (trips > 0),
  segment   integer NOT NULL
) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_origin_fine ADD PRIMARY KEY (cell, week, region_id, segment) INCLUDE (trips);

CREATE TABLE gold.weekly_destination_fine (LIKE gold.weekly_origin_fine INCLUDING CONSTRAINTS) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_destination_fine ADD PRIMARY KEY (cell, week, region_id, segment) INCLUDE (trips);

COMMENT ON TABLE gold.weekly_origin_fine IS 'Trips per region, ISO week (Monday) and level-10 origin cell of the segments of large files, one row per key and segment; segment 0 has none';
COMMENT ON TABLE gold.weekly_destination_fine IS 'Trips per region, ISO week (Monday) and level-10 destination cell of the segments of large files, one row per key and segment; segment 0 has none';
