-- bronze.trips: the raw rows of each file as text, exactly as read, one LIST partition per ingestion.
-- A partition is created UNLOGGED by the loader, filled by COPY and attached; it is dropped once the
-- ingestion completes. Bronze is reproducible from the landing file, which stays in landing until then,
-- so nothing is lost if PostgreSQL truncates an unlogged partition after a crash.
CREATE TABLE bronze.trips (
  ingestion_id      bigint NOT NULL,
  line_no           bigint NOT NULL,   -- record number in the file; the header is line 1
  region            text,
  origin_coord      text,
  destination_coord text,
  datetime          text,
  datasource        text,
  raw               text,              -- the whole line, kept only where the line did not split into fields
  parse_error       text               -- why the line did not split into fields
) PARTITION BY LIST (ingestion_id);
