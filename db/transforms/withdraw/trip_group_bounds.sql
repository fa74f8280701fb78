-- Target: silver.trip_groups (segment 0), first_trip_at and last_trip_at of the groups given ($1 region ids,
-- $2 level-7 origin cells, $3 level-7 destination cells, $4 slots, as parallel arrays).
-- Source: silver.trips of segment 0 (the incremental path's, whose groups these are), found through the level-12 origin-cell index: one range scan per level-12
-- column under the group's origin cell (tripflow.cell_ranges).
-- Why: withdrawing an ingestion (withdraw/aggregates.sql) reduces counts and sums exactly, but a
-- group's first or last trip may have been one of the withdrawn ones; these groups are few.
-- Every remaining trip of a group counts here, merged into it or not yet: the merge of a trip not
-- merged yet takes least/greatest of the same values later, so the bounds come out the same.
-- Safe to run twice: it sets the bounds from silver as it is.
UPDATE silver.trip_groups AS g
SET first_trip_at = b.first_trip_at, last_trip_at = b.last_trip_at
FROM unnest($1::int[], $2::bigint[], $3::bigint[], $4::smallint[]) AS k (region_id, origin_cell, destination_cell, slot)
CROSS JOIN LATERAL (
  SELECT min(t.trip_time) AS first_trip_at, max(t.trip_time) AS last_trip_at
  FROM tripflow.cell_ranges(k.origin_cell) AS r
  CROSS JOIN LATERAL (
    SELECT t.trip_time, t.destination_cell, t.tod_minute FROM silver.trips AS t
    WHERE t.segment = 0 AND t.origin_cell BETWEEN r.lo AND r.hi AND t.region_id = k.region_id
    OFFSET 0
  ) AS t
  WHERE tripflow.cell_parent(t.destination_cell, 7) = k.destination_cell AND t.tod_minute / 30 = k.slot
) AS b
WHERE g.segment = 0 AND g.region_id = k.region_id AND g.origin_cell = k.origin_cell
  AND g.destination_cell = k.destination_cell AND g.slot = k.slot AND b.first_trip_at IS NOT NULL;
