-- Target: gold.weekly_cell_pairs, one row per (region, ISO week, level-6 cell of the origin, level-6
-- cell of the destination).
-- Source: the silver.trips of one chunk ($1 ingestion id, lines $2..$3) in segment 0, where the
-- incremental path writes, read by primary key. The rows merge into segment 0 (the column default).
-- Safe to run twice: the marker CTE records ('gold.weekly_cell_pairs', chunk $4) in audit.steps and the
-- merge reads nothing when the marker was already there (see weekly_origin_cells.sql).
WITH marker AS (
  INSERT INTO audit.steps (ingestion_id, step, chunk) VALUES ($1::bigint, 'gold.weekly_cell_pairs', $4::int)
  ON CONFLICT DO NOTHING
  RETURNING 1
)
INSERT INTO gold.weekly_cell_pairs AS g (region_id, week, origin_cell, destination_cell, trips)
SELECT t.region_id, tripflow.iso_week(t.trip_time), tripflow.cell_parent(t.origin_cell, 6), tripflow.cell_parent(t.destination_cell, 6), count(*)
FROM silver.trips AS t
WHERE t.segment = 0 AND t.ingestion_id = $1::bigint AND t.line_no BETWEEN $2::bigint AND $3::bigint
  AND EXISTS (SELECT FROM marker)
GROUP BY 1, 2, 3, 4
ORDER BY 3, 4, 2, 1
ON CONFLICT (origin_cell, destination_cell, week, region_id, segment) DO UPDATE SET trips = g.trips + excluded.trips;
