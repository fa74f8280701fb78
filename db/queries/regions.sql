-- Every region with its trips in gold, the first and last ISO week with trips, and the extent of the
-- level-8 cells its trips start or end in: the area a map of the region should show.
-- Grain: one row per region of silver.regions, by name (byte order); a region without trips in gold
-- has 0 trips and NULL weeks and extent.
-- Sources: gold.weekly_regions (trips and weeks), gold.weekly_origin_cells and
-- gold.weekly_destination_cells (extent). A key may have one row per segment (db/migrations/10): the
-- sums add them up and the extremes see them all alike.
-- No parameters.
WITH totals AS (
  SELECT region_id, sum(trips)::bigint AS trips, min(week) AS first_week, max(week) AS last_week
  FROM gold.weekly_regions
  GROUP BY region_id
),

ends AS (
  SELECT region_id, cell FROM gold.weekly_origin_cells
  UNION ALL
  SELECT region_id, cell FROM gold.weekly_destination_cells
),

-- The bounds of the south-west-most and north-east-most cells of the region's extent.
extent AS (
  SELECT
    region_id,
    tripflow.cell_bounds((8::bigint << 42) | (min(tripflow.cell_x(cell))::bigint << 21) | min(tripflow.cell_y(cell))) AS sw,
    tripflow.cell_bounds((8::bigint << 42) | (max(tripflow.cell_x(cell))::bigint << 21) | max(tripflow.cell_y(cell))) AS ne
  FROM ends
  GROUP BY region_id
)

SELECT
  r.name,
  coalesce(t.trips, 0)::bigint AS trips,
  t.first_week::text AS first_week,
  t.last_week::text AS last_week,
  CASE WHEN e.sw IS NOT NULL THEN ARRAY[e.sw[1], e.sw[2], e.ne[3], e.ne[4]] END AS bbox
FROM silver.regions AS r
LEFT JOIN totals AS t ON t.region_id = r.id
LEFT JOIN extent AS e ON e.region_id = r.id
ORDER BY r.name COLLATE "C";
