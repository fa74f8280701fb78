-- How box answers may plan (api/routes/stats.ts): at level 10 when some segment of a large file has its
-- level-10 counts (db/migrations/14_gold_fine_cells.sql, both ends attached at once), reading the trips
-- of the others near the box's edges from `unrefined`, their tables. `partitions` names the partitions of
-- silver.trips and of both level-10 tables: read before and after an answer, it tells whether a segment
-- or its level-10 counts came or went meanwhile (the answer is then asked again at level 8, which is
-- exact whatever the segments).
-- Grain: one row.
WITH parts AS (
  SELECT h.inhparent, format('%I.%I', n.nspname, c.relname) AS name,
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\(''?(-?\d+)''?\)'))[1]::int AS segment
  FROM pg_inherits AS h
  JOIN pg_class AS c ON c.oid = h.inhrelid
  JOIN pg_namespace AS n ON n.oid = c.relnamespace
  WHERE h.inhparent IN ('silver.trips'::regclass, 'gold.weekly_origin_fine'::regclass, 'gold.weekly_destination_fine'::regclass)
),

trips AS (
  SELECT t.name, EXISTS (
      SELECT FROM parts AS f WHERE f.inhparent = 'gold.weekly_origin_fine'::regclass AND f.segment = t.segment
    ) AS refined
  FROM parts AS t
  WHERE t.inhparent = 'silver.trips'::regclass
)

SELECT
  (SELECT coalesce(string_agg(name, ',' ORDER BY name), '') FROM parts) AS partitions,
  coalesce(bool_or(refined), false) AS refined,
  coalesce(array_agg(name ORDER BY name) FILTER (WHERE NOT refined), '{}') AS unrefined
FROM trips;
