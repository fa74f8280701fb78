-- Small dimensions: trips carry integer ids, names live once.
CREATE TABLE silver.regions (
  id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name <> '')
);

CREATE TABLE silver.datasources (
  id   integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  name text NOT NULL UNIQUE CHECK (name <> '')
);

-- silver.trips: one row per stored trip. The similarity key is kept at the finest supported level
-- (level-12 cells, about 27 m, and the minute of the day) so that any coarser grouping can be derived.
-- No foreign keys here on purpose: they cost three lookups per inserted row, and the only writer
-- (db/transforms/silver/trips.sql) takes region and datasource ids from a join and the ingestion id
-- from the ingestion it runs for.
CREATE TABLE silver.trips (
  ingestion_id     bigint    NOT NULL,
  line_no          bigint    NOT NULL,
  region_id        integer   NOT NULL,
  datasource_id    integer   NOT NULL,
  origin           geometry(Point, 4326) NOT NULL,
  destination      geometry(Point, 4326) NOT NULL,
  trip_time        timestamp NOT NULL,    -- as written in the file: the data carries no time zone
  origin_cell      bigint    NOT NULL,    -- tripflow.cell(origin, 12)
  destination_cell bigint    NOT NULL,    -- tripflow.cell(destination, 12)
  tod_minute       smallint  NOT NULL CHECK (tod_minute BETWEEN 0 AND 1439),
  -- A line of a file is one trip: (ingestion_id, line_no) identifies it. region_id rides along so that
  -- the key includes the column silver would be distributed on across machines (docs/scaling.md); a
  -- line always has the same region, so a second copy of a line is still refused.
  PRIMARY KEY (ingestion_id, line_no, region_id)
);

-- Spatial access goes through the level-12 cell ids (see tripflow.cell_ranges and box_ranges): a
-- btree costs far less to maintain per inserted row than a GiST index and answers the box and cell
-- lookups the API makes. Each index carries the other end's cell, the time and the region, so that
-- counting the trips of cells wholly inside a box (db/queries/weekly_box*.sql) reads the index alone.
-- Time: a BRIN index (cheap to maintain; selective when files arrive roughly in time order).
CREATE INDEX trips_origin_cell      ON silver.trips (origin_cell) INCLUDE (destination_cell, trip_time, region_id);
CREATE INDEX trips_destination_cell ON silver.trips (destination_cell) INCLUDE (origin_cell, trip_time, region_id);
CREATE INDEX trips_time_brin        ON silver.trips USING brin (trip_time);

-- silver.trip_groups: one row per group of similar trips at the default similarity: same region,
-- origin in the same level-7 cell, destination in the same level-7 cell, time of day in the same
-- 30-minute slot. Sums (not averages) are kept so that groups merge exactly when new files arrive and
-- coarser groupings are sums of these rows.
CREATE TABLE silver.trip_groups (
  region_id        integer   NOT NULL,   -- silver.regions (no foreign key: see silver.trips)
  origin_cell      bigint    NOT NULL,
  destination_cell bigint    NOT NULL,
  slot             smallint  NOT NULL CHECK (slot BETWEEN 0 AND 47),
  trips            bigint    NOT NULL CHECK (trips > 0),
  sum_origin_lon   float8    NOT NULL,
  sum_origin_lat   float8    NOT NULL,
  sum_dest_lon     float8    NOT NULL,
  sum_dest_lat     float8    NOT NULL,
  first_trip_at    timestamp NOT NULL,
  last_trip_at     timestamp NOT NULL,
  PRIMARY KEY (region_id, origin_cell, destination_cell, slot)
);
CREATE INDEX trip_groups_size ON silver.trip_groups (trips DESC);
