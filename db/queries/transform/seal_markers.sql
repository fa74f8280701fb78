-- Marks every chunk of a sealed bulk ingestion as in the groups and each gold table (its own
-- partitions, attached by the seal), as the incremental path marks each chunk it merges: completion
-- (core/complete_ingestion.sql) reads these markers. (A withdrawal of a bulk ingestion drops its
-- tables instead of reading them: pipeline/core/withdraw.ts.)
-- One row per (step, chunk). $1 ingestion id bigint, $2 chunks int.
-- Safe to run twice: markers already there are left alone.
INSERT INTO audit.steps (ingestion_id, step, chunk)
SELECT $1::bigint, s.step, c.chunk
FROM unnest(ARRAY['silver.trip_groups', 'gold', 'gold.weekly_regions', 'gold.weekly_origin_cells',
                  'gold.weekly_destination_cells', 'gold.weekly_cell_pairs']) AS s (step)
CROSS JOIN generate_series(0, $2::int - 1) AS c (chunk)
ON CONFLICT DO NOTHING;
