-- Bronze holds each data line as the loader read it (pipeline/parse.ts): a trip's typed fields, or the
-- line as written with the reason it is not a trip. Reading lines in the loader, which streams the file
-- anyway, takes the regular-expression guards and the WKT parser off the silver transform (about 45 %
-- of its time per chunk, docs/scalability.md) and gives every line to COPY in a form it cannot refuse.
-- Bronze partitions are transient (each lives until its ingestion ends): an ingestion in flight during
-- this migration is loaded again from its landing file at the next start (pipeline/orchestrator.ts).
DROP TABLE bronze.trips;

CREATE TABLE bronze.trips (
  ingestion_id    bigint NOT NULL,
  line_no         bigint NOT NULL,   -- the line in the file; the header is line 1
  region          text,              -- trimmed of spaces; the fields are NULL for a refused line
  datasource      text,
  origin_lon      float8,
  origin_lat      float8,
  destination_lon float8,
  destination_lat float8,
  trip_time       timestamp,         -- as written: the data carries no time zone
  raw             text,              -- a refused line as written (without its line break)
  reason          text,              -- why the line is not a trip; NULL for a trip
  CHECK ((reason IS NULL) = (raw IS NULL)),
  CHECK (reason IS NOT NULL OR (region <> '' AND datasource <> '' AND trip_time IS NOT NULL
         AND origin_lon BETWEEN -180 AND 180 AND origin_lat BETWEEN -90 AND 90
         AND destination_lon BETWEEN -180 AND 180 AND destination_lat BETWEEN -90 AND 90))
) PARTITION BY LIST (ingestion_id);

-- Parsing moved to the loader: the SQL parsers are no longer used.
DROP FUNCTION tripflow.parse_point(text);
DROP FUNCTION tripflow.parse_timestamp(text);
