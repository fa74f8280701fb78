-- What `npm run demo` prints after the sample: one row per region in gold, with its trips, the ISO weeks
-- from its first to its last trip and the weekly average over them (two decimals, as text).
SELECT
  r.name AS region,
  sum(g.trips)::int AS trips,
  ((max(g.week) - min(g.week)) / 7 + 1)::int AS weeks,
  round(sum(g.trips)::numeric / ((max(g.week) - min(g.week)) / 7 + 1), 2)::text AS weekly_average
FROM gold.weekly_regions AS g
JOIN silver.regions AS r ON r.id = g.region_id
GROUP BY r.name
ORDER BY r.name;
