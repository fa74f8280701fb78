-- Whether a bronze chunk is all there before it is promoted. Grain: one row.
--   expected  the rows the chunk's bronze marker in audit.steps holds, NULL when it has none;
--   present   the bronze rows of the chunk's lines (bronze.trips is partitioned by ingestion, then by
--             line range: only the chunk's own table is read).
-- $1 ingestionId bigint, $2 chunk int, $3 firstLine bigint, $4 endLine bigint (one past the chunk's last line).
SELECT
  (SELECT s.rows FROM audit.steps AS s WHERE s.ingestion_id = $1::bigint AND s.step = 'bronze' AND s.chunk = $2::int)
    AS expected,
  (
    SELECT count(*) FROM bronze.trips AS b
    WHERE b.ingestion_id = $1::bigint AND b.line_no >= $3::bigint AND b.line_no < $4::bigint
  ) AS present;
