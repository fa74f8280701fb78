-- The segments of large files (every partition of silver.trips besides segment 0) of at least $1 trips (as
-- their last ANALYZE counted them) that lack their level-10 counts (db/migrations/14_gold_fine_cells.sql),
-- in the order they came.
-- Grain: one row per such segment. Read by pipeline/transform/refine.ts. $1 min_trips float8.
WITH parts AS (
  SELECT
    h.inhparent, greatest(c.reltuples, 0)::float8 AS trips,
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\(''?(-?\d+)''?\)'))[1]::int AS segment
  FROM pg_inherits AS h
  JOIN pg_class AS c ON c.oid = h.inhrelid
  WHERE h.inhparent IN ('silver.trips'::regclass, 'gold.weekly_origin_fine'::regclass)
)
SELECT t.segment, t.trips
FROM parts AS t
WHERE t.inhparent = 'silver.trips'::regclass AND t.segment <> 0 AND t.trips >= $1::float8
  AND NOT EXISTS (SELECT FROM parts AS f WHERE f.inhparent = 'gold.weekly_origin_fine'::regclass AND f.segment = t.segment)
ORDER BY abs(t.segment);
