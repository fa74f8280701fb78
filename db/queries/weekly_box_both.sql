-- Trips per ISO week of a period whose origin AND destination both lie in a box (edges included): one
-- row per week (Monday), zeros included. Gold cannot answer a joint condition, so this reads the
-- trips whose origin is in the box from silver (btree on the level-12 origin cell, one id range per
-- column of the box) and tests both points exactly.
-- $1 region id or NULL, $2 / $3 Mondays of the first / last week, $4..$7 west, south, east, north.
WITH period AS (
  SELECT w::date AS week FROM generate_series($2::date, $3::date, interval '7 days') AS w
),

matched AS (
  SELECT tripflow.iso_week(t.trip_time) AS week, count(*) AS trips
  FROM tripflow.box_ranges($4::float8, $5::float8, $6::float8, $7::float8) AS r
  CROSS JOIN LATERAL (
    SELECT t.trip_time FROM silver.trips AS t
    WHERE t.origin_cell BETWEEN r.lo AND r.hi
      AND ST_X(t.origin) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.origin) BETWEEN $5::float8 AND $7::float8
      AND ST_X(t.destination) BETWEEN $4::float8 AND $6::float8 AND ST_Y(t.destination) BETWEEN $5::float8 AND $7::float8
      AND t.trip_time >= $2::date AND t.trip_time < $3::date + 7
      AND ($1::int IS NULL OR t.region_id = $1::int)
    OFFSET 0 -- one index range scan per column, whatever the statistics say
  ) AS t
  GROUP BY 1
)

SELECT p.week::text AS week, coalesce(m.trips, 0)::bigint AS trips
FROM period AS p
LEFT JOIN matched AS m USING (week)
ORDER BY p.week;
