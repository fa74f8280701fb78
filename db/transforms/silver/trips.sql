-- Target: silver.trips, one row per valid bronze line; audit.rejects, one row per invalid line.
-- Source: one chunk of bronze.trips ($1 ingestion id, lines $2..$3, chunk number $4; $5 the file's
-- column order, used only to show a rejected line as it was written).
-- Safe to run twice: the marker CTE records ('silver.trips', chunk $4) in audit.steps and the chunk
-- reads nothing when the marker was already there (a concurrent second run waits on the marker's key,
-- then finds it); the primary keys of silver.trips and audit.rejects refuse a second copy regardless.
WITH marker AS (
  INSERT INTO audit.steps (ingestion_id, step, chunk) VALUES ($1::bigint, 'silver.trips', $4::int)
  ON CONFLICT DO NOTHING
  RETURNING 1
),

source AS (
  SELECT line_no, region, origin_coord, destination_coord, datetime, datasource, raw, parse_error
  FROM bronze.trips
  WHERE ingestion_id = $1::bigint AND line_no BETWEEN $2::bigint AND $3::bigint
    AND EXISTS (SELECT FROM marker)
),

points AS MATERIALIZED (
  SELECT
    s.*,
    btrim(s.region) AS region_name,
    btrim(s.datasource) AS datasource_name,
    tripflow.parse_point(s.origin_coord) AS o,
    tripflow.parse_point(s.destination_coord) AS d,
    tripflow.parse_timestamp(s.datetime) AS t
  FROM source AS s
),

-- Coordinates read once per point (every later use is a plain float8).
parsed AS MATERIALIZED (
  SELECT p.*, ST_X(p.o) AS olon, ST_Y(p.o) AS olat, ST_X(p.d) AS dlon, ST_Y(p.d) AS dlat
  FROM points AS p
),

judged AS (
  SELECT
    p.*,
    CASE
      WHEN p.parse_error IS NOT NULL THEN p.parse_error
      WHEN coalesce(p.region_name, '') = '' THEN 'empty region'
      WHEN coalesce(p.datasource_name, '') = '' THEN 'empty datasource'
      WHEN p.o IS NULL THEN 'unparseable origin point ' || quote_literal(coalesce(p.origin_coord, ''))
        || ' (expected POINT (lon lat))'
      WHEN p.olon NOT BETWEEN -180 AND 180 THEN 'origin longitude ' || p.olon || ' outside -180..180'
      WHEN p.olat NOT BETWEEN -90 AND 90 THEN 'origin latitude ' || p.olat || ' outside -90..90'
      WHEN p.d IS NULL THEN 'unparseable destination point ' || quote_literal(coalesce(p.destination_coord, ''))
        || ' (expected POINT (lon lat))'
      WHEN p.dlon NOT BETWEEN -180 AND 180 THEN 'destination longitude ' || p.dlon || ' outside -180..180'
      WHEN p.dlat NOT BETWEEN -90 AND 90 THEN 'destination latitude ' || p.dlat || ' outside -90..90'
      WHEN p.t IS NULL THEN 'unparseable or impossible datetime ' || quote_literal(coalesce(p.datetime, ''))
        || ' (expected YYYY-MM-DD HH:MM:SS)'
    END AS reason
  FROM parsed AS p
),

rejected AS (
  INSERT INTO audit.rejects (ingestion_id, line_no, raw, reason)
  SELECT
    $1::bigint,
    j.line_no,
    coalesce(j.raw, (
      SELECT string_agg(
        CASE WHEN v ~ '[",\r\n]' OR v <> btrim(v) THEN '"' || replace(v, '"', '""') || '"' ELSE v END,
        ',' ORDER BY ord)
      FROM unnest($5::text[]) WITH ORDINALITY AS c (name, ord)
      CROSS JOIN LATERAL (SELECT coalesce(CASE c.name
        WHEN 'region' THEN j.region WHEN 'origin_coord' THEN j.origin_coord
        WHEN 'destination_coord' THEN j.destination_coord WHEN 'datetime' THEN j.datetime
        WHEN 'datasource' THEN j.datasource END, '') AS v) AS field)),
    j.reason
  FROM judged AS j
  WHERE j.reason IS NOT NULL
  RETURNING 1
),

stored AS (
  INSERT INTO silver.trips (
    ingestion_id, line_no, region_id, datasource_id, origin, destination, trip_time,
    origin_cell, destination_cell, tod_minute)
  SELECT
    $1::bigint,
    j.line_no,
    r.id,
    ds.id,
    j.o,
    j.d,
    j.t,
    tripflow.cell(j.olon, j.olat, 12),
    tripflow.cell(j.dlon, j.dlat, 12),
    (extract(hour FROM j.t) * 60 + extract(minute FROM j.t))::smallint
  FROM judged AS j
  JOIN silver.regions AS r ON r.name = j.region_name
  JOIN silver.datasources AS ds ON ds.name = j.datasource_name
  WHERE j.reason IS NULL
  RETURNING 1
)

SELECT
  (SELECT count(*) FROM marker)::int AS applied,
  (SELECT count(*) FROM stored)::bigint AS stored,
  (SELECT count(*) FROM rejected)::bigint AS rejected;
