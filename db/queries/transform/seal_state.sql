-- What the seal's final transaction needs of a bulk ingestion: whether it is sealed already, its chunks
-- and the trips they stored. One row. $1 ingestion id bigint.
SELECT
  EXISTS (SELECT FROM audit.steps WHERE ingestion_id = i.id AND step = 'silver.sealed') AS sealed,
  i.chunks,
  (SELECT coalesce(sum(rows), 0)::bigint FROM audit.steps WHERE ingestion_id = i.id AND step = 'silver.trips') AS rows
FROM audit.ingestions AS i
WHERE i.id = $1::bigint;
