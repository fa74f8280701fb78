-- Target: silver.regions and silver.datasources (one row per distinct name).
-- Source: the trips of one chunk of bronze.trips ($1 ingestion id, lines $2..$3); names come trimmed.
-- Safe to run twice: names that exist already are left alone (ON CONFLICT DO NOTHING); names are taken
-- in sorted order so that concurrent chunks never wait on each other in a cycle.
WITH names AS (
  SELECT region, datasource
  FROM bronze.trips
  WHERE ingestion_id = $1::bigint AND line_no BETWEEN $2::bigint AND $3::bigint AND reason IS NULL
),
new_regions AS (
  INSERT INTO silver.regions (name)
  SELECT DISTINCT region FROM names ORDER BY 1
  ON CONFLICT (name) DO NOTHING
  RETURNING 1
)
INSERT INTO silver.datasources (name)
SELECT DISTINCT datasource FROM names ORDER BY 1
ON CONFLICT (name) DO NOTHING;
