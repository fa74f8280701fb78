-- Bronze partitions of ingestions that ended and whose file has moved: one row per ingestion id. Bronze
-- is kept only while an ingestion runs (its landing file can always rebuild it), so these are dropped.
SELECT i.id
FROM pg_inherits AS h
JOIN audit.ingestions AS i ON h.inhrelid::regclass::text = 'bronze.trips_' || i.id
WHERE h.inhparent = 'bronze.trips'::regclass
  AND i.status IN ('completed', 'failed', 'skipped')
  AND i.archived_as IS NOT NULL;
