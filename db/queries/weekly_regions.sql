-- Trips per ISO week of a period, for one region or all: one row per week (Monday), zeros included.
-- Source: gold.weekly_regions only.
-- $1 region id or NULL for all regions, $2 Monday of the first week, $3 Monday of the last week.
SELECT w.week::date::text AS week, coalesce(sum(g.trips), 0)::bigint AS trips
FROM generate_series($2::date, $3::date, interval '7 days') AS w (week)
LEFT JOIN gold.weekly_regions AS g
  ON g.week = w.week::date AND ($1::int IS NULL OR g.region_id = $1::int)
GROUP BY w.week
ORDER BY w.week;
