-- Pure, inlinable helpers used by the transforms and the queries. None of them raises on bad input:
-- they return NULL, so one bad row can never abort a set-based statement.

-- A WKT point 'POINT (lon lat)' (any case, optional spaces, optional sign, optional exponent) as
-- {lon, lat}. The integer part is limited to three digits so the cast can never overflow.
CREATE FUNCTION tripflow.parse_point(wkt text) RETURNS float8[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN m IS NULL THEN NULL ELSE ARRAY[m[1]::float8, m[2]::float8] END
  FROM regexp_match(
    wkt,
    '^\s*point\s*\(\s*([+-]?0*(?:\d{1,3}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,2})?)\s+([+-]?0*(?:\d{1,3}(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,2})?)\s*\)\s*$',
    'i') AS m
$$;

-- 'YYYY-MM-DD HH:MM[:SS[.ffffff]]' (or with a T) as a timestamp without time zone, kept as written;
-- NULL when the text is not of that shape or names an impossible moment (2021-02-30, 25:00).
CREATE FUNCTION tripflow.parse_timestamp(t text) RETURNS timestamp
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN m IS NULL THEN NULL
    WHEN m[1]::int < 1 OR m[2]::int NOT BETWEEN 1 AND 12 OR m[3]::int < 1
      OR m[4]::int > 23 OR m[5]::int > 59 OR coalesce(m[6], '0')::numeric >= 60 THEN NULL
    WHEN m[3]::int > extract(day FROM make_date(m[1]::int, m[2]::int, 1) + interval '1 month - 1 day') THEN NULL
    ELSE make_timestamp(m[1]::int, m[2]::int, m[3]::int, m[4]::int, m[5]::int, coalesce(m[6], '0')::float8)
  END
  FROM regexp_match(t, '^\s*(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2})(?::(\d{2}(?:\.\d{1,6})?))?\s*$') AS m
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

-- The Monday that starts the ISO week of a timestamp.
CREATE FUNCTION tripflow.iso_week(t timestamp) RETURNS date
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date_trunc('week', t)::date $$;
