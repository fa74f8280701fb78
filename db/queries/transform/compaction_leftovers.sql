-- Tables of a compaction that ended before its final transaction (a crash): built but never attached.
-- Grain: one row per such table, its qualified name. pipeline/transform/compact.ts drops them first.
SELECT format('%I.%I', n.nspname, c.relname) AS name
FROM pg_class AS c
JOIN pg_namespace AS n ON n.oid = c.relnamespace
WHERE n.nspname IN ('silver', 'gold') AND c.relkind = 'r' AND c.relname ~ '_cmp_[0-9]+$'
  AND NOT EXISTS (SELECT FROM pg_inherits AS h WHERE h.inhrelid = c.oid);
