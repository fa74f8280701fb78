-- Target: silver.trips, one row per bronze trip; audit.rejects, one row per refused bronze line.
-- Source: one chunk of bronze.trips ($1 ingestion id, lines $2..$3, chunk number $4), as the loader
-- read it (pipeline/bronze/parse.ts): typed fields, or the line as written and the reason it is not a trip.
-- Derives what silver adds: PostGIS points, level-12 cells and level-27 subcells of both ends, the minute of the day, and
-- the region and datasource ids (silver/dimensions.sql ran first in the same transaction).
-- Safe to run twice: the marker CTE records ('silver.trips', chunk $4) in audit.steps and the chunk
-- reads nothing when the marker was already there (a concurrent second run waits on the marker's key,
-- then finds it); the primary keys of silver.trips and audit.rejects refuse a second copy regardless.
WITH marker AS (
  INSERT INTO audit.steps (ingestion_id, step, chunk) VALUES ($1::bigint, 'silver.trips', $4::int)
  ON CONFLICT DO NOTHING
  RETURNING 1
),

source AS NOT MATERIALIZED (
  SELECT *
  FROM bronze.trips
  WHERE ingestion_id = $1::bigint AND line_no BETWEEN $2::bigint AND $3::bigint
    AND EXISTS (SELECT FROM marker)
),

rejected AS (
  INSERT INTO audit.rejects (ingestion_id, line_no, raw, reason)
  SELECT $1::bigint, s.line_no, s.raw, s.reason
  FROM source AS s
  WHERE s.reason IS NOT NULL
  RETURNING 1
),

stored AS (
  INSERT INTO silver.trips (
    ingestion_id, line_no, region_id, datasource_id, origin, destination, trip_time,
    origin_cell, destination_cell, tod_minute, origin_subcell, destination_subcell)
  SELECT
    $1::bigint,
    s.line_no,
    r.id,
    ds.id,
    ST_SetSRID(ST_MakePoint(s.origin_lon, s.origin_lat), 4326),
    ST_SetSRID(ST_MakePoint(s.destination_lon, s.destination_lat), 4326),
    s.trip_time,
    tripflow.cell(s.origin_lon, s.origin_lat, 12),
    tripflow.cell(s.destination_lon, s.destination_lat, 12),
    (date_part('hour', s.trip_time) * 60 + date_part('minute', s.trip_time))::smallint,
    tripflow.subcell(s.origin_lon, s.origin_lat),
    tripflow.subcell(s.destination_lon, s.destination_lat)
  FROM source AS s
  JOIN silver.regions AS r ON r.name = s.region
  JOIN silver.datasources AS ds ON ds.name = s.datasource
  WHERE s.reason IS NULL
  -- In origin-cell order: consecutive rows go to the same pages of the origin-cell index (and, cell
  -- ids being grouped by area, of the destination-cell index), and the trips of one cell sit together
  -- in the heap for the box queries' exact tests. Measured: 3.9-5.1 s -> 3.3-3.4 s per 250k trips.
  ORDER BY tripflow.cell(s.origin_lon, s.origin_lat, 12)
  RETURNING 1
)

SELECT
  (SELECT count(*) FROM marker)::int AS applied,
  (SELECT count(*) FROM stored)::bigint AS stored,
  (SELECT count(*) FROM rejected)::bigint AS rejected;
