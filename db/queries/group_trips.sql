-- The member trips of one group, a page at a time in (trip_time, ingestion_id, line_no) order.
-- Grain: one row per trip; no row at all when the group does not exist, one row of NULLs when it
-- exists but this page is past its last trip.
-- Source: silver.trip_groups (does the group exist) and silver.trips, found through the btree on
-- origin_cell by the origin cell's level-12 id ranges, kept when both cells and the time of day match.
-- $1 region id, $2 origin cell id, $3 destination cell id (the same level, 0..7), $4 slot minutes,
-- $5 slot index, $6..$8 the (trip_time, ingestion_id, line_no) to continue after or all NULL, $9 page size.
WITH grp AS (
  SELECT tripflow.cell_level($2::bigint) AS level
  FROM silver.trip_groups AS g
  WHERE g.region_id = $1::int
    AND tripflow.cell_parent(g.origin_cell, tripflow.cell_level($2::bigint)) = $2::bigint
    AND tripflow.cell_parent(g.destination_cell, tripflow.cell_level($3::bigint)) = $3::bigint
    AND g.slot / ($4::int / 30) = $5::int
  LIMIT 1
)

SELECT m.*
FROM grp
LEFT JOIN LATERAL (
  SELECT
    t.ingestion_id,
    t.line_no,
    r.name AS region,
    ds.name AS datasource,
    ST_X(t.origin) AS origin_lon,
    ST_Y(t.origin) AS origin_lat,
    ST_X(t.destination) AS dest_lon,
    ST_Y(t.destination) AS dest_lat,
    t.trip_time
  FROM tripflow.cell_ranges($2::bigint) AS cr
  CROSS JOIN LATERAL ( -- one index range scan per column of the cell, whatever the statistics say
    SELECT t.* FROM silver.trips AS t WHERE t.origin_cell BETWEEN cr.lo AND cr.hi AND t.region_id = $1::int OFFSET 0
  ) AS t
  JOIN silver.regions AS r ON r.id = t.region_id
  JOIN silver.datasources AS ds ON ds.id = t.datasource_id
  WHERE t.region_id = $1::int
    AND tripflow.cell_parent(t.origin_cell, grp.level) = $2::bigint
    AND tripflow.cell_parent(t.destination_cell, grp.level) = $3::bigint
    AND t.tod_minute / $4::int = $5::int
    AND ($6::timestamp IS NULL OR (t.trip_time, t.ingestion_id, t.line_no) > ($6::timestamp, $7::bigint, $8::bigint))
  ORDER BY t.trip_time, t.ingestion_id, t.line_no
  LIMIT $9::int
) AS m ON true
ORDER BY m.trip_time, m.ingestion_id, m.line_no;
