-- Trips per grid cell of level $4 (1..8) by the cell their {end} lies in: gold's level-8 cells added up
-- into their level-$4 parents, for drawing a map. A template: api/queries.ts fills {end} with origin or
-- destination.
-- Grain: one row per level-$4 cell with trips, most trips first, then west to east and south to north
-- (a level's cell ids sort by column, then row); at most $9 rows.
-- Source: gold.weekly_{end}_cells only. A key may have one row per segment (db/migrations/10): they are
-- added up with the weeks and regions.
-- Parameters, by the names api/routes/cells.ts gives them (CellsParams, cellsArgs):
--   $1 regionId int or NULL for all regions;
--   $2 firstWeek, $3 lastWeek date or NULL: Mondays of the first and last week, NULL for no bound;
--   $4 level int;
--   $5..$8 gold.colLo, gold.colHi, gold.rowLo, gold.rowHi bigint: the level-8 columns and rows to read;
--   $9 limit int.
-- Level-8 ids sort by column, then row: the rectangle lies in one id range, from its first column's
-- lowest row to its last column's highest row, less the rows outside it.
WITH counted AS (
  SELECT tripflow.cell_parent(g.cell, $4::int) AS cell, sum(g.trips)::bigint AS trips
  FROM gold.weekly_{end}_cells AS g
  WHERE g.cell BETWEEN (8::bigint << 42) | ($5::bigint << 21) | $7::bigint
                   AND (8::bigint << 42) | ($6::bigint << 21) | $8::bigint
    AND tripflow.cell_y(g.cell) BETWEEN $7::bigint AND $8::bigint
    AND ($1::int IS NULL OR g.region_id = $1::int)
    AND ($2::date IS NULL OR g.week >= $2::date)
    AND ($3::date IS NULL OR g.week <= $3::date)
  GROUP BY 1
)

SELECT tripflow.cell_bounds(c.cell) AS bounds, c.trips
FROM counted AS c
ORDER BY c.trips DESC, c.cell
LIMIT $9::int;
