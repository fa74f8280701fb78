-- The segments of large files: every partition of silver.trips besides segment 0, smallest first, with
-- whether it may be compacted: a compacted segment (negative) always; a large file's own segment once
-- its ingestion completed and its file was archived (a completed file is withdrawn, segment and all,
-- only before it is archived: pipeline/bronze/intake.ts).
-- Grain: one row per segment. Read by pipeline/transform/compact.ts.
SELECT s.segment, s.bytes, s.segment < 0 OR EXISTS (
    SELECT FROM audit.ingestions AS i
    WHERE i.id = s.segment AND i.status = 'completed' AND i.archived_as IS NOT NULL
  ) AS settled
FROM (
  SELECT
    (regexp_match(pg_get_expr(c.relpartbound, c.oid), '\(''?(-?\d+)''?\)'))[1]::int AS segment,
    pg_relation_size(c.oid) AS bytes
  FROM pg_inherits AS h
  JOIN pg_class AS c ON c.oid = h.inhrelid
  WHERE h.inhparent = 'silver.trips'::regclass
) AS s
WHERE s.segment <> 0
ORDER BY s.bytes, s.segment;
