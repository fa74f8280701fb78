-- Ended ingestions whose file move is not recorded yet (a crash between moving the file and writing
-- archived_as): one row per ingestion; pipeline/landing/archive.ts looks for the file where it goes.
SELECT id, file_name, status
FROM audit.ingestions
WHERE archived_as IS NULL AND status IN ('completed', 'failed', 'skipped')
ORDER BY id;
