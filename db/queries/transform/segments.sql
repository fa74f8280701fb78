-- The segments of large files: every partition of silver.trips besides segment 0, smallest first, with
-- whether it may be compacted: a compacted segment (negative) always; a large file's own segment once
-- its ingestion completed and its file was archived (a completed file is withdrawn, segment and all,
-- only before it is archived: pipeline/bronze/intake.ts).
-- Grain: one row per segment, with its trips as its last ANALYZE counted them (the sort memory of a
-- compaction's index builds). Read by pipeline/transform/compact.ts.
SELECT s.segment, s.bytes, s.trips, s.segment < 0 OR EXISTS (
    SELECT FROM audit.ingestions AS i
    WHERE i.id = s.segment AND i.status = 'completed' AND i.archived_as IS NOT NULL
  ) AS settled
FROM (
  SELECT
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\(''?(-?\d+)''?\)'))[1]::int AS segment,
    pg_relation_size(c.oid) AS bytes,
    greatest(c.reltuples, 0)::float8 AS trips
  FROM pg_inherits AS h
  JOIN pg_class AS c ON c.oid = h.inhrelid
  WHERE h.inhparent = 'silver.trips'::regclass
) AS s
WHERE s.segment <> 0
ORDER BY s.bytes, s.segment;
