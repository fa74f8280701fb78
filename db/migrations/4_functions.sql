-- Pure, inlinable helpers used by the transforms and the queries. None of them raises on bad input:
-- they return NULL, so one bad row can never abort a set-based statement.

-- A WKT point 'POINT (lon lat)' (any case, optional spaces, optional sign or exponent) as a
-- geometry(Point, 4326); NULL when the text is anything else. A cheap pattern test guards PostGIS's own
-- parser (which would raise on bad input); the integer part is limited to three digits so nothing can
-- overflow. A single expression, so PostgreSQL inlines it (no per-row function call).
CREATE FUNCTION tripflow.parse_point(wkt text) RETURNS geometry
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN wkt ~* '^\s*point\s*\(\s*[+-]?0*(\d{1,3}(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?\s+[+-]?0*(\d{1,3}(\.\d*)?|\.\d+)([eE][+-]?\d{1,2})?\s*\)\s*$'
    THEN ST_GeomFromText(replace(wkt, '+', ''), 4326)
  END
$$;

-- 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' (or with a T) as a timestamp without time zone, kept as written;
-- NULL when the text is not of that shape or names an impossible moment (2021-02-29, 24:00). The
-- checks are a CASE, evaluated in order, so the final cast only ever sees a valid moment. The first
-- branch is the fast path for the common case (no surrounding spaces, day 01..28: valid in every
-- month); the rest checks the day against the month's length. STABLE, not IMMUTABLE, because the
-- text-to-timestamp cast is STABLE: an IMMUTABLE wrapper would not be inlined and would cost a function
-- call per row (measured: 2-3x slower on a 250,000-row chunk).
CREATE FUNCTION tripflow.parse_timestamp(t text) RETURNS timestamp
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN t ~ '^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|1\d|2[0-8])[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?$'
      AND left(t, 4) <> '0000' THEN t::timestamp
    WHEN t !~ '^\s*\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[ T]([01]\d|2[0-3]):[0-5]\d(:[0-5]\d(\.\d{1,6})?)?\s*$' THEN NULL
    WHEN substr(ltrim(t), 1, 4)::int < 1 THEN NULL
    WHEN substr(ltrim(t), 9, 2)::int > CASE substr(ltrim(t), 6, 2)::int
        WHEN 2 THEN 28 + (substr(ltrim(t), 1, 4)::int % 4 = 0
                          AND (substr(ltrim(t), 1, 4)::int % 100 <> 0 OR substr(ltrim(t), 1, 4)::int % 400 = 0))::int
        ELSE 30 + (substr(ltrim(t), 6, 2)::int + substr(ltrim(t), 6, 2)::int / 8) % 2
      END THEN NULL
    ELSE btrim(t)::timestamp
  END
$$;

-- The grid. At level L (0..12) a cell is 2^-L degrees wide and high, aligned on multiples of 2^-L
-- degrees, so every cell edge is an exact binary fraction and "which cell holds this point" is exact in
-- float8. Column x = floor(lon * 2^L) + 180 * 2^L, row y = floor(lat * 2^L) + 90 * 2^L (lon 180 and
-- lat 90 fold into the last column and row). A cell id packs level, column and row:
-- (L << 42) | (x << 21) | y, so an id says its own level and the parent at level K <= L is found by
-- shifting x and y right by L - K.
CREATE FUNCTION tripflow.cell(lon float8, lat float8, level int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (level::bigint << 42)
       | (least(floor(lon * (1::bigint << level))::bigint + (180::bigint << level), (360::bigint << level) - 1) << 21)
       |  least(floor(lat * (1::bigint << level))::bigint + (90::bigint << level), (180::bigint << level) - 1)
$$;

CREATE FUNCTION tripflow.cell_level(id bigint) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (id >> 42)::int $$;

CREATE FUNCTION tripflow.cell_x(id bigint) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT ((id >> 21) & 2097151)::int $$;

CREATE FUNCTION tripflow.cell_y(id bigint) RETURNS int
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (id & 2097151)::int $$;

-- The ancestor of a cell at a coarser (or the same) level.
CREATE FUNCTION tripflow.cell_parent(id bigint, level int) RETURNS bigint
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (level::bigint << 42)
       | ((((id >> 21) & 2097151) >> ((id >> 42)::int - level)) << 21)
       |  ((id & 2097151) >> ((id >> 42)::int - level))
$$;

-- West, south, east, north edges of a cell in degrees (the cell holds west <= lon < east, same for lat).
CREATE FUNCTION tripflow.cell_bounds(id bigint) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT ARRAY[
    (((id >> 21) & 2097151) - (180::bigint << (id >> 42)::int))::float8 / (1::bigint << (id >> 42)::int),
    ((id & 2097151) - (90::bigint << (id >> 42)::int))::float8 / (1::bigint << (id >> 42)::int),
    (((id >> 21) & 2097151) + 1 - (180::bigint << (id >> 42)::int))::float8 / (1::bigint << (id >> 42)::int),
    ((id & 2097151) + 1 - (90::bigint << (id >> 42)::int))::float8 / (1::bigint << (id >> 42)::int)]
$$;

-- The level-12 cell ids under a cell, as one [lo, hi] id range per level-12 column: level-12 ids of one
-- column are consecutive in y, so a btree on a level-12 cell column finds a cell's points with one
-- range scan per column.
CREATE FUNCTION tripflow.cell_ranges(id bigint) RETURNS TABLE (lo bigint, hi bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (12::bigint << 42) | (gx << 21) | (((id & 2097151)) << (12 - (id >> 42)::int)),
         (12::bigint << 42) | (gx << 21) | ((((id & 2097151) + 1) << (12 - (id >> 42)::int)) - 1)
  FROM generate_series(
    ((id >> 21) & 2097151) << (12 - (id >> 42)::int),
    ((((id >> 21) & 2097151) + 1) << (12 - (id >> 42)::int)) - 1) AS gx
$$;

-- The level-12 id ranges (one per column) of the level-12 cells that meet a box given in degrees.
CREATE FUNCTION tripflow.box_ranges(west float8, south float8, east float8, north float8) RETURNS TABLE (lo bigint, hi bigint)
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT (12::bigint << 42) | (gx << 21) | tripflow.cell_y(tripflow.cell(west, south, 12)),
         (12::bigint << 42) | (gx << 21) | tripflow.cell_y(tripflow.cell(west, north, 12))
  FROM generate_series(tripflow.cell_x(tripflow.cell(west, south, 12))::bigint,
                       tripflow.cell_x(tripflow.cell(east, south, 12))::bigint) AS gx
$$;

-- The Monday that starts the ISO week of a timestamp.
CREATE FUNCTION tripflow.iso_week(t timestamp) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date_trunc('week', t)::date $$;
