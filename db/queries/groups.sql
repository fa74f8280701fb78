-- Groups of similar trips at the default or a coarser similarity, largest first.
-- Grain: one row per (region, level-$2 origin cell, level-$2 destination cell, $3-minute slot of the day).
-- Source: silver.trip_groups only (level-7 cells, 30-minute slots): a coarser group is the sum of the
-- stored groups under it, so silver.trips is never read.
-- $1 region id or NULL for all, $2 cell level 0..7, $3 slot minutes (a multiple of 30 that divides
-- 1440), $4 minimum trips, $5..$8 west, south, east, north of a box the representative origin must
-- lie in (edges included) or all NULL, $9 at most this many rows.
-- Exactly one branch of `merged` runs (a one-time filter on $2, $3): re-aggregating every stored row
-- only to get the same rows back costs several times more on a large table.
WITH merged AS (
  -- At the stored similarity the groups are the stored rows themselves.
  SELECT
    g.region_id, g.origin_cell, g.destination_cell, g.slot::int AS slot_index, g.trips,
    g.sum_origin_lon, g.sum_origin_lat, g.sum_dest_lon, g.sum_dest_lat, g.first_trip_at, g.last_trip_at
  FROM silver.trip_groups AS g
  WHERE $2::int = 7 AND $3::int = 30
    AND ($1::int IS NULL OR g.region_id = $1::int) AND g.trips >= $4::bigint
  UNION ALL
  SELECT
    g.region_id,
    tripflow.cell_parent(g.origin_cell, $2::int),
    tripflow.cell_parent(g.destination_cell, $2::int),
    g.slot / ($3::int / 30),
    sum(g.trips)::bigint,
    sum(g.sum_origin_lon), sum(g.sum_origin_lat), sum(g.sum_dest_lon), sum(g.sum_dest_lat),
    min(g.first_trip_at), max(g.last_trip_at)
  FROM silver.trip_groups AS g
  WHERE NOT ($2::int = 7 AND $3::int = 30)
    AND ($1::int IS NULL OR g.region_id = $1::int)
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
