-- gold.weekly_cell_pairs: trips per region, ISO week, level-6 cell of the origin and level-6 cell of the
-- destination (cells of 1/64 degree, about 1.7 km). Why: a box question with match=both counts trips whose
-- two ends lie in the box, which gold's one-end tables cannot answer; it read every trip whose origin lay
-- in the box's inner level-12 cells (db/queries/weekly_box_both.sql), so its cost grew with the trips in
-- the box. With this table, the trips whose two ends lie in level-6 cells wholly inside the box are one
-- gold row per cell pair and week; silver is read only for the band between those cells and the box's
-- edges. Level 6 because the table grows with the pairs of cells trips connect each week: level 7
-- would be about four times the rows for a band half as wide (docs/scalability.md).
-- Like the other gold tables: LIST partitions on `segment` (migration 10), one row per key and segment,
-- every reader adds them up; segment 0 holds what the incremental path merges chunk by chunk.
-- Filled here from silver, every segment its own partition; every chunk already in gold is marked as
-- merged into it (its 'gold.weekly_cell_pairs' marker), so a withdrawal takes out what it counted.
CREATE TABLE gold.weekly_cell_pairs (
  region_id        integer NOT NULL,
  week             date    NOT NULL CHECK (extract(isodow FROM week) = 1),
  origin_cell      bigint  NOT NULL,
  destination_cell bigint  NOT NULL,
  trips            bigint  NOT NULL CHECK (trips > 0),
  segment          integer NOT NULL DEFAULT 0
) PARTITION BY LIST (segment);
ALTER TABLE gold.weekly_cell_pairs ADD PRIMARY KEY (origin_cell, destination_cell, week, region_id, segment) INCLUDE (trips);

COMMENT ON TABLE gold.weekly_cell_pairs IS 'Trips per region, ISO week (Monday), level-6 cell of the origin and level-6 cell of the destination; one row per key and segment: add them up';

DO $$
DECLARE
  part record;
  target text;
BEGIN
  FOR part IN
    SELECT c.relname, substring(pg_get_expr(c.relpartbound, c.oid) FROM '\((-?\d+)\)')::int AS segment
    FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
    WHERE i.inhparent = 'silver.trips'::regclass
  LOOP
    target := 'gold.weekly_cell_pairs_' || substring(part.relname FROM '^trips_(.*)$');
    EXECUTE format(
      'CREATE TABLE %s (LIKE gold.weekly_cell_pairs INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = %s))',
      target, part.segment);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN segment SET DEFAULT %s', target, part.segment);
    EXECUTE format(
      'INSERT INTO %s (region_id, week, origin_cell, destination_cell, trips, segment)
       SELECT t.region_id, tripflow.iso_week(t.trip_time), tripflow.cell_parent(t.origin_cell, 6),
              tripflow.cell_parent(t.destination_cell, 6), count(*), %s
       FROM silver.%I AS t GROUP BY 1, 2, 3, 4 ORDER BY 3, 4, 2, 1',
      target, part.segment, part.relname);
    EXECUTE format('ALTER TABLE %s ADD PRIMARY KEY (origin_cell, destination_cell, week, region_id, segment) INCLUDE (trips)', target);
    EXECUTE format('ALTER TABLE gold.weekly_cell_pairs ATTACH PARTITION %s FOR VALUES IN (%s)', target, part.segment);
  END LOOP;
END
$$;

INSERT INTO audit.steps (ingestion_id, step, chunk)
SELECT s.ingestion_id, 'gold.weekly_cell_pairs', s.chunk
FROM audit.steps AS s
WHERE s.step = 'gold'
ON CONFLICT DO NOTHING;

ANALYZE gold.weekly_cell_pairs;
