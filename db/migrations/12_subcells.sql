-- Each trip's points also say where they lie inside their level-12 cell, on the grid of level 27
-- (2^-27 degrees, under a centimetre): silver.trips gains origin_subcell and destination_subcell, and
-- each level-12 cell index carries its own end's. Why: a box question tests the points of the level-12
-- cells its edges cut, and the points are not in the indexes, so each test read the trip's heap page
-- (at 10 M trips, 14,000 pages for one box: most of a slow answer's time). With the subcell in the
-- index, a point is inside or outside the box from the index alone unless the box's edge runs through
-- its level-27 cell; only those trips (about one in 30,000 on the edge cells) are read from the heap.
-- The index entry stays 40 bytes: the 4-byte subcell fills what alignment left empty.
--
-- tripflow.subcell(lon, lat): (x mod 2^15) << 15 | (y mod 2^15) with x, y the point's level-27 column
-- and row as tripflow.cell computes them (the same folding of lon 180 and lat 90), so the level-27 column
-- is (level-12 column << 15) | (subcell >> 15) and the row (level-12 row << 15) | (subcell & 32767).
-- pipeline/bronze/silver_rows.ts computes the same numbers (products with powers of two are exact).
-- The level-27 column (row) of a coordinate: a point's, and a box edge's in box questions.
CREATE FUNCTION tripflow.column27(lon float8) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT least(floor(lon * (1::bigint << 27))::bigint + (180::bigint << 27), (360::bigint << 27) - 1)
$$;

CREATE FUNCTION tripflow.row27(lat float8) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT least(floor(lat * (1::bigint << 27))::bigint + (90::bigint << 27), (180::bigint << 27) - 1)
$$;

CREATE FUNCTION tripflow.subcell(lon float8, lat float8) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (((tripflow.column27(lon) & 32767) << 15) | (tripflow.row27(lat) & 32767))::int
$$;

-- A point's level-27 column and row from its level-12 cell id and its subcell.
CREATE FUNCTION tripflow.column27(cell bigint, subcell int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (((cell >> 21) & 2097151) << 15) | (subcell >> 15) $$;

CREATE FUNCTION tripflow.row27(cell bigint, subcell int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ((cell & 2097151) << 15) | (subcell & 32767) $$;

-- Where a point lies against a box whose edges are given on the level-27 grid (w, s, e, n: columns and
-- rows of the edges): 1 wholly inside, -1 wholly outside, 0 an edge runs through its level-27 cell (only
-- the point itself can tell).
CREATE FUNCTION tripflow.subcell_side(cell bigint, subcell int, w bigint, s bigint, e bigint, n bigint) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN tripflow.column27(cell, subcell) < w OR tripflow.column27(cell, subcell) > e
      OR tripflow.row27(cell, subcell) < s OR tripflow.row27(cell, subcell) > n THEN -1
    WHEN tripflow.column27(cell, subcell) IN (w, e) OR tripflow.row27(cell, subcell) IN (s, n) THEN 0
    ELSE 1
  END
$$;

ALTER TABLE silver.trips ADD COLUMN origin_subcell integer, ADD COLUMN destination_subcell integer;

-- Trips already stored, when a database is upgraded in place: once, and long on a large database (the
-- UPDATE and the index builds below took 12 minutes for 15 M trips on the 2-core benchmark machine).
UPDATE silver.trips
SET origin_subcell = tripflow.subcell(ST_X(origin), ST_Y(origin)),
    destination_subcell = tripflow.subcell(ST_X(destination), ST_Y(destination));

ALTER TABLE silver.trips ALTER COLUMN origin_subcell SET NOT NULL, ALTER COLUMN destination_subcell SET NOT NULL;

-- A large file's segment still loading or waiting for its seal is not a partition yet: the same columns,
-- and no old-shaped cell index (its seal builds the new ones, IF NOT EXISTS).
DO $$
DECLARE t regclass;
BEGIN
  FOR t IN
    SELECT c.oid::regclass FROM pg_class AS c JOIN pg_namespace AS n ON n.oid = c.relnamespace
    WHERE n.nspname = 'silver' AND c.relkind = 'r' AND c.relname ~ '^trips_(seg|cmp)_[0-9]+$'
      AND NOT EXISTS (SELECT FROM pg_inherits AS i WHERE i.inhrelid = c.oid)
  LOOP
    EXECUTE format('ALTER TABLE %s ADD COLUMN origin_subcell integer, ADD COLUMN destination_subcell integer', t);
    EXECUTE format('UPDATE %s SET origin_subcell = tripflow.subcell(ST_X(origin), ST_Y(origin)), '
                   'destination_subcell = tripflow.subcell(ST_X(destination), ST_Y(destination))', t);
    EXECUTE format('ALTER TABLE %s ALTER COLUMN origin_subcell SET NOT NULL, ALTER COLUMN destination_subcell SET NOT NULL', t);
    EXECUTE format('DROP INDEX IF EXISTS silver.%I, silver.%I',
                   (SELECT relname FROM pg_class WHERE oid = t) || '_origin_cell',
                   (SELECT relname FROM pg_class WHERE oid = t) || '_destination_cell');
  END LOOP;
END
$$;

-- The cell indexes again, each with its end's subcell (built on every segment, once).
DROP INDEX silver.trips_origin_cell, silver.trips_destination_cell;
CREATE INDEX trips_origin_cell      ON silver.trips (origin_cell) INCLUDE (destination_cell, trip_time, region_id, origin_subcell);
CREATE INDEX trips_destination_cell ON silver.trips (destination_cell) INCLUDE (origin_cell, trip_time, region_id, destination_subcell);
