-- For a resumed load, what audit.steps knows of one chunk. Grain: one row.
--   expected  the rows the chunk's bronze marker holds, NULL when it has none (never loaded, or not committed);
--   promoted  whether silver.trips has the chunk already (its 'silver.trips' marker exists).
-- $1 id bigint (the ingestion), $2 chunk int.
SELECT
  (SELECT s.rows FROM audit.steps AS s WHERE s.ingestion_id = $1::bigint AND s.step = 'bronze' AND s.chunk = $2::int)
    AS expected,
  EXISTS (
    SELECT FROM audit.steps AS s WHERE s.ingestion_id = $1::bigint AND s.step = 'silver.trips' AND s.chunk = $2::int
  ) AS promoted;
