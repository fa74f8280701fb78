-- Groups of similar trips at the default or a coarser similarity, largest first.
-- Grain: one row per (region, level-$2 origin cell, level-$2 destination cell, $3-minute slot of the day).
-- Source: silver.trip_groups only (level-7 cells, 30-minute slots): a coarser group is the sum of the
-- stored groups under it, so silver.trips is never read.
-- $1 region id or NULL for all, $2 cell level 0..7, $3 slot minutes (a multiple of 30 that divides
-- 1440), $4 minimum trips, $5..$8 west, south, east, north of a box the representative origin must
-- lie in (edges included) or all NULL, $9 at most this many rows.
-- A group may have a row in each segment (db/migrations/10): they are added up, and at a coarser
-- similarity so are the groups under it.
WITH merged AS (
  SELECT
    g.region_id,
    tripflow.cell_parent(g.origin_cell, $2::int) AS origin_cell,
    tripflow.cell_parent(g.destination_cell, $2::int) AS destination_cell,
    g.slot / ($3::int / 30) AS slot_index,
    sum(g.trips)::bigint AS trips,
    sum(g.sum_origin_lon) AS sum_origin_lon, sum(g.sum_origin_lat) AS sum_origin_lat,
    sum(g.sum_dest_lon) AS sum_dest_lon, sum(g.sum_dest_lat) AS sum_dest_lat,
    min(g.first_trip_at) AS first_trip_at, max(g.last_trip_at) AS last_trip_at
  FROM silver.trip_groups AS g
  WHERE $1::int IS NULL OR g.region_id = $1::int
  GROUP BY 1, 2, 3, 4
  HAVING sum(g.trips) >= $4::bigint
),

represented AS (
  SELECT
    m.*,
    m.sum_origin_lon / m.trips AS origin_lon,
    m.sum_origin_lat / m.trips AS origin_lat,
    m.sum_dest_lon / m.trips AS dest_lon,
    m.sum_dest_lat / m.trips AS dest_lat
  FROM merged AS m
)

SELECT
  g.region_id,
  r.name AS region,
  g.origin_cell::text AS origin_cell,
  tripflow.cell_bounds(g.origin_cell) AS origin_bounds,
  g.destination_cell::text AS destination_cell,
  tripflow.cell_bounds(g.destination_cell) AS destination_bounds,
  g.slot_index,
  g.trips,
  g.origin_lon, g.origin_lat, g.dest_lon, g.dest_lat,
  g.first_trip_at,
  g.last_trip_at
FROM represented AS g
JOIN silver.regions AS r ON r.id = g.region_id
WHERE $5::float8 IS NULL
   OR (g.origin_lon BETWEEN $5::float8 AND $7::float8 AND g.origin_lat BETWEEN $6::float8 AND $8::float8)
ORDER BY g.trips DESC, g.region_id, g.origin_cell, g.destination_cell, g.slot_index
LIMIT $9::int;
