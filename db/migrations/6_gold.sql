-- Gold: weekly trip counts (ISO weeks, keyed by their Monday) per region and level-7 grid cell, once by
-- the cell of the origin and once by the cell of the destination. Every silver trip is counted exactly
-- once in each table, so both sum to the silver total. No foreign keys (as in silver.trips): the only
-- writers are the gold transforms, which take region ids from silver, and a key check per merged row
-- is measurable at this volume. The keys lead with the cell: a box query reads
-- one id range per column of cells (see db/queries/weekly_box.sql).
CREATE TABLE gold.weekly_origin_cells (
  region_id integer NOT NULL,
  week      date    NOT NULL CHECK (extract(isodow FROM week) = 1),
  cell      bigint  NOT NULL,
  trips     bigint  NOT NULL CHECK (trips > 0),
  PRIMARY KEY (cell, week, region_id)
);

CREATE TABLE gold.weekly_destination_cells (
  region_id integer NOT NULL,
  week      date    NOT NULL CHECK (extract(isodow FROM week) = 1),
  cell      bigint  NOT NULL,
  trips     bigint  NOT NULL CHECK (trips > 0),
  PRIMARY KEY (cell, week, region_id)
);

-- One row per region and week: region questions never touch the cell tables.
CREATE TABLE gold.weekly_regions (
  region_id integer NOT NULL,
  week      date    NOT NULL CHECK (extract(isodow FROM week) = 1),
  trips     bigint  NOT NULL CHECK (trips > 0),
  PRIMARY KEY (region_id, week)
);
