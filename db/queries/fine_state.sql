-- How box answers may plan (api/routes/stats.ts): one-end answers at level 10 when some segment of a
-- large file has its level-10 counts (db/migrations/14_gold_fine_cells.sql, both ends attached at once),
-- reading the trips of the others near the box's edges from `unrefined`, their tables; both-ends answers
-- with level-8 pairs when some segment has them (db/migrations/15_gold_fine_pairs.sql), reading the trips
-- of the others from `unpaired`. `partitions` names the partitions of silver.trips and of the three
-- tables: read before and after an answer, it tells whether a segment or its counts came or went
-- meanwhile (the answer is then asked again without them, which is exact whatever the segments).
-- Grain: one row.
WITH parts AS (
  SELECT h.inhparent, format('%I.%I', n.nspname, c.relname) AS name,
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\(''?(-?\d+)''?\)'))[1]::int AS segment
  FROM pg_inherits AS h
  JOIN pg_class AS c ON c.oid = h.inhrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  WHERE h.inhparent IN ('silver.trips'::regclass, 'gold.weekly_origin_fine'::regclass, 'gold.weekly_destination_fine'::regclass,
    'gold.weekly_cell_pairs_fine'::regclass)
),

trips AS (
  SELECT t.name, EXISTS (
      SELECT FROM parts AS f WHERE f.inhparent = 'gold.weekly_origin_fine'::regclass AND f.segment = t.segment
    ) AS refined,
    EXISTS (
      SELECT FROM parts AS f WHERE f.inhparent = 'gold.weekly_cell_pairs_fine'::regclass AND f.segment = t.segment
    ) AS paired
  FROM parts AS t
  WHERE t.inhparent = 'silver.trips'::regclass
)

SELECT
  (SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM parts) AS partitions,
  coalesce(bool_or(refined), false) AS refined,
  coalesce(array_agg(name ORDER BY name) FILTER (WHERE NOT refined), '{}') AS unrefined,
  coalesce(bool_or(paired), false) AS paired,
  coalesce(array_agg(name ORDER BY name) FILTER (WHERE NOT paired), '{}') AS unpaired
FROM trips;
