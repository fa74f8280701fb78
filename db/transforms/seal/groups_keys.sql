-- Target: {groups} once filled (groups_table.sql): its parent's key (db/migrations/10), so that
-- attaching links it instead of building it, and its statistics. The rows go in as they come (the hash
-- aggregate's order, or the load's table's): sorting them first (ORDER BY) cost more than it saved this
-- build (1 M trips: 1.87 + 0.14 s sorted, 1.34 + 0.37 s not; docs/scalability.md).
ALTER TABLE {groups} ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);
ANALYZE {groups};
