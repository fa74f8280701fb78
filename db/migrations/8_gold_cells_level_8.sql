-- Gold's cell tables move from level-7 cells (about 870 m) to level-8 cells (about 435 m).
-- Why: a box question counts gold's cells that lie inside the box, and reads silver only for the strip
-- between the box's edges and the nearest cell borders. Halving the cell halves that strip, the part
-- of the answer whose cost grows with the number of trips. Measured on the 10 M-trip benchmark database
-- (2 cores): one-end box answers p95 97-101 ms -> 54-71 ms; the two tables grow from 59 k + 59 k to
-- 124 k + 133 k rows (1.2 % -> 2.6 % of silver rows with gold.weekly_regions). Level 9 would be 6.3 %.
--
-- The tables are rebuilt from silver: every trip in silver.trips is counted, and every chunk whose trips
-- are in silver is marked as merged into gold (the chunk's 'gold' marker and one per gold transform).
-- A chunk that an interrupted run promoted but had not merged yet is therefore counted here once, and
-- its pending merge_gold job finds its marker and changes nothing. Chunks not promoted yet merge later
-- as usual. gold.weekly_regions has no cells but is rebuilt the same way, for the same markers.
-- On 100 M trips the rebuild reads silver twice and takes minutes: it runs once, at the first start of
-- this version.
LOCK TABLE gold.weekly_regions, gold.weekly_origin_cells, gold.weekly_destination_cells IN EXCLUSIVE MODE;

TRUNCATE gold.weekly_regions, gold.weekly_origin_cells, gold.weekly_destination_cells;

INSERT INTO gold.weekly_regions (region_id, week, trips)
SELECT t.region_id, tripflow.iso_week(t.trip_time), count(*)
FROM silver.trips AS t
GROUP BY 1, 2;

INSERT INTO gold.weekly_origin_cells (region_id, week, cell, trips)
SELECT t.region_id, tripflow.iso_week(t.trip_time), tripflow.cell_parent(t.origin_cell, 8), count(*)
FROM silver.trips AS t
GROUP BY 1, 2, 3;

INSERT INTO gold.weekly_destination_cells (region_id, week, cell, trips)
SELECT t.region_id, tripflow.iso_week(t.trip_time), tripflow.cell_parent(t.destination_cell, 8), count(*)
FROM silver.trips AS t
GROUP BY 1, 2, 3;

INSERT INTO audit.steps (ingestion_id, step, chunk)
SELECT s.ingestion_id, m.step, s.chunk
FROM audit.steps AS s
CROSS JOIN (VALUES ('gold'), ('gold.weekly_regions'), ('gold.weekly_origin_cells'), ('gold.weekly_destination_cells')) AS m (step)
WHERE s.step = 'silver.trips'
ON CONFLICT DO NOTHING;

COMMENT ON TABLE gold.weekly_origin_cells IS 'Trips per region, ISO week (Monday) and level-8 cell of the origin';
COMMENT ON TABLE gold.weekly_destination_cells IS 'Trips per region, ISO week (Monday) and level-8 cell of the destination';

-- Fresh statistics for the planner at once; autovacuum then sets the visibility map (inserted rows
-- trigger it) so that box answers read gold's keys without visiting the heap.
ANALYZE gold.weekly_regions, gold.weekly_origin_cells, gold.weekly_destination_cells;
