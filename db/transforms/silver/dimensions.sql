-- Target: silver.regions and silver.datasources (one row per distinct name).
-- Source: the trips of one chunk of bronze.trips ($1 ingestion id, lines $2..$3); names come trimmed.
-- Safe to run twice: names that exist already are left alone (ON CONFLICT DO NOTHING); names are taken
-- in sorted order so that concurrent chunks never wait on each other in a cycle.
-- Each name column is read by its own scan of the chunk and grouped by hashing: only the few distinct
-- names are sorted (a shared CTE fed two sorts of all 250,000 names: about 0.6 s of a chunk's 1 s here).
WITH new_regions AS (
  INSERT INTO silver.regions (name)
  SELECT d.region
  FROM (
    SELECT region FROM bronze.trips
    WHERE ingestion_id = $1::bigint AND line_no BETWEEN $2::bigint AND $3::bigint AND reason IS NULL
    GROUP BY region
  ) AS d
  ORDER BY 1
  ON CONFLICT (name) DO NOTHING
  RETURNING 1
)
INSERT INTO silver.datasources (name)
SELECT d.datasource
FROM (
  SELECT datasource FROM bronze.trips
  WHERE ingestion_id = $1::bigint AND line_no BETWEEN $2::bigint AND $3::bigint AND reason IS NULL
  GROUP BY datasource
) AS d
ORDER BY 1
ON CONFLICT (name) DO NOTHING;
