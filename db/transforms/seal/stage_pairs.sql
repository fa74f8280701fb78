-- Target: {pairs} (pairs_table.sql), one row per (region, ISO week, level-6 origin cell, level-6
-- destination cell) of one bulk ingestion's segment, in the order of its key, attached as a partition of
-- gold.weekly_cell_pairs by the seal's final transaction (pipeline/transform/seal.ts).
-- Source: the ingestion's segment {trips}, in one scan.
-- Run as pairs_table.sql, this, pairs_keys.sql in one query (one transaction): a second run builds it again.
INSERT INTO {pairs} (region_id, week, origin_cell, destination_cell, trips, segment)
SELECT t.region_id, tripflow.iso_week(t.trip_time), tripflow.cell_parent(t.origin_cell, 6), tripflow.cell_parent(t.destination_cell, 6), count(*), {segment}
FROM {trips} AS t
GROUP BY 1, 2, 3, 4
ORDER BY 3, 4, 2, 1;
