-- Trips per ISO week of a period whose origin AND destination both lie in a box (edges included): one
-- row per week (Monday), zeros included. Exact. A template on `unpaired`: the trips of the segments
-- without level-8 pairs (api/routes/stats.ts). With "inner" the level-12 cells wholly inside the box,
-- "ring" those its edges cut through, "pairs" the level-6 cells wholly inside it and "within" the
-- level-8 cells wholly inside it (each as the level-12 cells under them; pairs lie in within, within in
-- inner), the trips split into disjoint parts:
--   G  origin and destination in pairs: gold.weekly_cell_pairs, one row per cell pair and week;
--   M  with level-8 pairs only (db/migrations/15): origin in within but not in pairs and destination in
--      within (read by origin), or origin in pairs and destination in within but not in pairs (read by
--      destination): gold.weekly_cell_pairs_fine, one row per level-8 cell pair and week, for the
--      segments that have it, and the trips of `unpaired` through their cell indexes;
--   A1 origin inner but neither in pairs nor in M, destination inner: silver's origin index over the
--      band between pairs (or within, with M) and the ring (the band's rectangles, $20..$23), the
--      destination's cell from the entry;
--   A2 origin in pairs (or within, with M), destination inner but not in them: the destination index
--      over the band ($24..$27), the origin's cell from the entry;
--   B  origin inner, destination in the ring: the destination index over the ring, the destination's
--      side from its level-27 subcell (db/migrations/12_subcells.sql);
--   C  origin in the ring, destination inner or in the ring: the origin index over the ring, the
--      origin's side from its subcell, the destination's from its cell when that is inner.
-- Silver's two level-12 cell indexes carry the other end's cell, trip_time, region_id and their own
-- end's subcell, so A1, A2, B and C read the indexes alone. A trip of B or C that the indexes cannot
-- decide (a subcell an edge runs through, or both ends in the ring: about one in a hundred of the
-- ring's) is tested by its points, read from the heap. Without pairs (no level-6 cell wholly inside
-- the inner cells), A1's rectangles are the inner cells and A2 reads nothing.
-- Each id range is a LATERAL subquery fenced with OFFSET 0 (see weekly_box.sql).
-- Parameters, by the names api/routes/stats.ts gives them (WeeklyBoxBothParams, weeklyBoxBothArgs):
--   $1 regionId int or NULL for all regions;  $2 firstWeek, $3 lastWeek date: Mondays of the first and last week;
--   $4..$7 box.west, box.south, box.east, box.north float8: the box, edges included;
--   $8..$11 inner.colLo, inner.colHi, inner.rowLo, inner.rowHi bigint: the inner level-12 columns and rows
--           (col_lo > col_hi when none);
--   $12..$15 ring's colLo, colHi, rowLo, rowHi int[]: the ring's rectangles whose trips this query reads (all
--           of api/box.ts splitBox's `edge`, or some of them), one array of level-12 column or row bounds each;
--   $16..$19 pairs.colLo, pairs.colHi, pairs.rowLo, pairs.rowHi bigint: the level-12 columns and rows under
--           the level-6 cells wholly inside the box (col_lo > col_hi when none);
--   $20..$23 byOrigin's, $24..$27 byDestination's colLo, colHi, rowLo, rowHi int[]: the rectangles of
--           level-12 cells that A1 reads through the origin index and A2 through the destination index;
--   $28 ring bool: whether it counts B and C (for the ring's rectangles in $12..$15);
--   $29, $30 the level-12 columns of pairs whose trips of G it counts (a part of $16..$17; $29 > $30: none);
--   $31..$34 within.colLo, within.colHi, within.rowLo, within.rowHi bigint: where A2's origins lie (pairs
--           without M, within with it; col_lo > col_hi when none);
--   $35..$38 M's rectangles read by origin, $39..$42 by destination: colLo, colHi, rowLo, rowHi int[] of
--           level-12 cells, each a rectangle of whole level-8 cells (none without level-8 pairs).
-- So one answer can be two queries side by side, on both cores (api/routes/stats.ts bothSeries), each
-- trip counted by exactly one: each takes half of G's columns, half of the ring's rectangles (a trip of B
-- or C is counted by the query holding the ring cell of its destination, or of its origin) and some of
-- the other parts.
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

-- G: the level-6 columns of pairs, one id range of origin cells each, the destination's cell tested.
pairs AS (
  SELECT g.week, sum(g.trips) AS trips
  FROM generate_series($29::bigint >> 6, $30::bigint >> 6) AS x6
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_cell_pairs AS g
    WHERE g.origin_cell BETWEEN (6::bigint << 42) | (x6 << 21) | ($18::bigint >> 6) AND (6::bigint << 42) | (x6 << 21) | ($19::bigint >> 6)
      AND ((g.destination_cell >> 21) & 2097151) BETWEEN $16::bigint >> 6 AND $17::bigint >> 6
      AND (g.destination_cell & 2097151) BETWEEN $18::bigint >> 6 AND $19::bigint >> 6
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  WHERE $29::bigint <= $30::bigint
  GROUP BY g.week
),

-- M: the level-8 cells wholly inside the box but not under pairs (level-8 pairs only): the rectangles
-- read by origin ($35..$38: trips whose destination lies in `within`) and by destination ($39..$42:
-- trips whose origin lies in pairs).
mid AS (
  SELECT r.read_by, r.col_lo::bigint AS col_lo, r.col_hi::bigint AS col_hi, r.row_lo::bigint AS row_lo, r.row_hi::bigint AS row_hi
  FROM (
    SELECT 'origin' AS read_by, * FROM unnest($35::int[], $36::int[], $37::int[], $38::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
    UNION ALL
    SELECT 'destination', * FROM unnest($39::int[], $40::int[], $41::int[], $42::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
  ) AS r
),

-- M from the level-8 pairs of the segments that have them, one id range per level-8 column.
mid_pairs AS (
  SELECT g.week, g.trips FROM mid AS m
  CROSS JOIN LATERAL generate_series(m.col_lo >> 4, m.col_hi >> 4) AS x8
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_cell_pairs_fine AS g
    WHERE g.origin_cell BETWEEN (8::bigint << 42) | (x8 << 21) | (m.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (m.row_hi >> 4)
      AND ((g.destination_cell >> 21) & 2097151) BETWEEN $31::bigint >> 4 AND $32::bigint >> 4
      AND (g.destination_cell & 2097151) BETWEEN $33::bigint >> 4 AND $34::bigint >> 4
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  WHERE m.read_by = 'origin'
  UNION ALL
  SELECT g.week, g.trips FROM mid AS m
  CROSS JOIN LATERAL generate_series(m.col_lo >> 4, m.col_hi >> 4) AS x8
  CROSS JOIN LATERAL (
    SELECT g.week, g.trips FROM gold.weekly_cell_pairs_fine AS g
    WHERE g.destination_cell BETWEEN (8::bigint << 42) | (x8 << 21) | (m.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (m.row_hi >> 4)
      AND ((g.origin_cell >> 21) & 2097151) BETWEEN $16::bigint >> 4 AND $17::bigint >> 4
      AND (g.origin_cell & 2097151) BETWEEN $18::bigint >> 4 AND $19::bigint >> 4
      AND g.week BETWEEN $2::date AND $3::date AND ($1::int IS NULL OR g.region_id = $1::int)
    OFFSET 0
  ) AS g
  WHERE m.read_by = 'destination'
),

-- M from the trips of the segments without level-8 pairs (by table name), one id range per level-12 column.
mid_trips AS (
  SELECT t.trip_time FROM mid AS m
  CROSS JOIN LATERAL generate_series(m.col_lo, m.col_hi) AS gx
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM {unpaired} AS t
    WHERE t.origin_cell BETWEEN (12::bigint << 42) | (gx << 21) | m.row_lo AND (12::bigint << 42) | (gx << 21) | m.row_hi
      AND ((t.destination_cell >> 21) & 2097151) BETWEEN $31::bigint AND $32::bigint
      AND (t.destination_cell & 2097151) BETWEEN $33::bigint AND $34::bigint
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE m.read_by = 'origin'
  UNION ALL
  SELECT t.trip_time FROM mid AS m
  CROSS JOIN LATERAL generate_series(m.col_lo, m.col_hi) AS gx
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM {unpaired} AS t
    WHERE t.destination_cell BETWEEN (12::bigint << 42) | (gx << 21) | m.row_lo AND (12::bigint << 42) | (gx << 21) | m.row_hi
      AND ((t.origin_cell >> 21) & 2097151) BETWEEN $16::bigint AND $17::bigint
      AND (t.origin_cell & 2097151) BETWEEN $18::bigint AND $19::bigint
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE m.read_by = 'destination'
),

-- The band's rectangles, but the level-8 columns under which gold has no trip of the end a rectangle
-- is read for (whatever its week or region; see weekly_box.sql): their range probes are skipped.
band AS (
  SELECT r.read_by, r.col_lo::bigint AS col_lo, r.col_hi::bigint AS col_hi, r.row_lo::bigint AS row_lo, r.row_hi::bigint AS row_hi, x8
  FROM (
    SELECT 'origin' AS read_by, * FROM unnest($20::int[], $21::int[], $22::int[], $23::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
    UNION ALL
    SELECT 'destination', * FROM unnest($24::int[], $25::int[], $26::int[], $27::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
  ) AS r
  CROSS JOIN LATERAL generate_series(r.col_lo::bigint >> 4, r.col_hi::bigint >> 4) AS x8
  WHERE CASE WHEN r.read_by = 'origin' THEN EXISTS (
      SELECT FROM gold.weekly_origin_cells AS g
      WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo::bigint >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi::bigint >> 4))
    ELSE EXISTS (
      SELECT FROM gold.weekly_destination_cells AS g
      WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo::bigint >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi::bigint >> 4)) END
),

band_columns AS (
  SELECT b.read_by, (12::bigint << 42) | (gx << 21) | b.row_lo AS lo, (12::bigint << 42) | (gx << 21) | b.row_hi AS hi
  FROM band AS b
  CROSS JOIN LATERAL generate_series(greatest(b.col_lo, b.x8 << 4), least(b.col_hi, (b.x8 << 4) | 15)) AS gx
),

-- A1 and A2: each trip from the index alone.
inner_trips AS (
  SELECT t.trip_time FROM band_columns AS c
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell BETWEEN c.lo AND c.hi
      AND ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
      AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE c.read_by = 'origin'
  UNION ALL
  SELECT t.trip_time FROM band_columns AS c
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.destination_cell BETWEEN c.lo AND c.hi
      AND ((t.origin_cell >> 21) & 2097151) BETWEEN $31::bigint AND $32::bigint
      AND (t.origin_cell & 2097151) BETWEEN $33::bigint AND $34::bigint
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE c.read_by = 'destination'
),

-- The ring's rectangles for B and C, by level-8 column, with whether gold has origins or destinations
-- under each.
ring AS (
  SELECT
    r.col_lo::bigint AS col_lo, r.col_hi::bigint AS col_hi, r.row_lo::bigint AS row_lo, r.row_hi::bigint AS row_hi, x8,
    EXISTS (
      SELECT FROM gold.weekly_origin_cells AS g
      WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi >> 4)
    ) AS origins,
    EXISTS (
      SELECT FROM gold.weekly_destination_cells AS g
      WHERE g.cell BETWEEN (8::bigint << 42) | (x8 << 21) | (r.row_lo >> 4) AND (8::bigint << 42) | (x8 << 21) | (r.row_hi >> 4)
    ) AS destinations
  FROM unnest($12::int[], $13::int[], $14::int[], $15::int[]) AS r (col_lo, col_hi, row_lo, row_hi)
  CROSS JOIN LATERAL generate_series(r.col_lo::bigint >> 4, r.col_hi::bigint >> 4) AS x8
  WHERE $28::bool
),

ring_columns AS (
  SELECT
    (12::bigint << 42) | (gx << 21) | r.row_lo AS lo,
    (12::bigint << 42) | (gx << 21) | r.row_hi AS hi,
    r.origins,
    r.destinations
  FROM ring AS r
  CROSS JOIN LATERAL generate_series(greatest(r.col_lo, r.x8 << 4), least(r.col_hi, (r.x8 << 4) | 15)) AS gx
  WHERE r.origins OR r.destinations
),

-- The box's edges on the level-27 grid of the points' subcells, and its level-12 columns and rows.
edges AS (
  SELECT
    tripflow.column27($4::float8) AS w, tripflow.row27($5::float8) AS s,
    tripflow.column27($6::float8) AS e, tripflow.row27($7::float8) AS n,
    tripflow.column27($4::float8) >> 15 AS col_lo, tripflow.column27($6::float8) >> 15 AS col_hi,
    tripflow.row27($5::float8) >> 15 AS row_lo, tripflow.row27($7::float8) >> 15 AS row_hi
),

-- B and C: each trip counted from the indexes alone (origin and destination null), or the two cells of
-- one that only its points can decide.
ring_trips AS (
  -- B: the destination's side from its subcell
  SELECT t.trip_time, t.origin, t.destination FROM ring_columns AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT
      t.trip_time,
      CASE WHEN tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) = 0 THEN t.origin_cell END AS origin,
      CASE WHEN tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) = 0 THEN t.destination_cell END AS destination
    FROM silver.trips AS t
    WHERE t.destination_cell BETWEEN c.lo AND c.hi
      AND ((t.origin_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
      AND (t.origin_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
      AND tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) >= 0
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
  WHERE c.destinations
  UNION ALL
  -- C: the origin's side from its subcell; the destination's from its cell when that is inner
  SELECT t.trip_time, t.origin, t.destination FROM ring_columns AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT
      t.trip_time,
      CASE WHEN NOT t.counted THEN t.origin_cell END AS origin,
      CASE WHEN NOT t.counted THEN t.destination_cell END AS destination
    FROM (
      SELECT
        t.trip_time, t.origin_cell, t.destination_cell,
        tripflow.subcell_side(t.origin_cell, t.origin_subcell, e.w, e.s, e.e, e.n) = 1
          AND ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint
          AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint AS counted
      FROM silver.trips AS t
      WHERE t.origin_cell BETWEEN c.lo AND c.hi
        AND tripflow.subcell_side(t.origin_cell, t.origin_subcell, e.w, e.s, e.e, e.n) >= 0
        AND ((t.destination_cell >> 21) & 2097151) BETWEEN e.col_lo AND e.col_hi
        AND (t.destination_cell & 2097151) BETWEEN e.row_lo AND e.row_hi
        AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
      OFFSET 0
    ) AS t
  ) AS t
  WHERE c.origins
),

-- A trip of B or C that only its points can decide: found again by its two cells through both cell
-- indexes at once (a BitmapAnd), counted if both points lie in the box and the indexes did not count it
-- (both subcells wholly inside and one of the cells inner).
rechecked AS (
  SELECT t.trip_time
  FROM (SELECT DISTINCT origin, destination FROM ring_trips WHERE origin IS NOT NULL) AS c
  CROSS JOIN edges AS e
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell = c.origin AND t.destination_cell = c.destination
      AND ST_X(t.origin) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.origin) BETWEEN $5::float8 AND $7::float8
      AND ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8
      AND NOT (
        tripflow.subcell_side(t.origin_cell, t.origin_subcell, e.w, e.s, e.e, e.n) = 1
        AND tripflow.subcell_side(t.destination_cell, t.destination_subcell, e.w, e.s, e.e, e.n) = 1
        AND (((t.origin_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint AND (t.origin_cell & 2097151) BETWEEN $10::bigint AND $11::bigint
          OR ((t.destination_cell >> 21) & 2097151) BETWEEN $8::bigint AND $9::bigint AND (t.destination_cell & 2097151) BETWEEN $10::bigint AND $11::bigint))
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7 AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0
  ) AS t
),

weekly AS (
  SELECT week, sum(trips) AS trips FROM (
    SELECT tripflow.iso_week(trip_time) AS week, count(*) AS trips FROM inner_trips GROUP BY 1
    UNION ALL
    SELECT week, trips FROM pairs
    UNION ALL
    SELECT week, trips FROM mid_pairs
    UNION ALL
    SELECT tripflow.iso_week(trip_time), count(*) FROM mid_trips GROUP BY 1
    UNION ALL
    SELECT tripflow.iso_week(trip_time), count(*) FROM ring_trips WHERE origin IS NULL GROUP BY 1
    UNION ALL
    SELECT tripflow.iso_week(trip_time), count(*) FROM rechecked GROUP BY 1
  ) AS w
  GROUP BY week
)

SELECT p.week::text AS week, coalesce(w.trips, 0)::bigint AS trips
FROM period AS p
LEFT JOIN weekly AS w USING (week)
ORDER BY p.week;
