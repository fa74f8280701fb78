-- Whether a bulk ingestion's segment can be sealed: the whole file is loaded (chunks known) and every
-- chunk has its silver marker. One row, `ready` true or false (false for an incremental ingestion).
-- $1 ingestion id bigint.
SELECT coalesce(
  (SELECT i.load_mode = 'bulk' AND i.chunks IS NOT NULL
          AND i.chunks = (SELECT count(*) FROM audit.steps AS s WHERE s.ingestion_id = i.id AND s.step = 'silver.trips')
   FROM audit.ingestions AS i
   WHERE i.id = $1::bigint AND i.status IN ('loading', 'transforming')),
  false) AS ready;
