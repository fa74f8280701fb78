-- Target: {groups} once filled (groups_table.sql): the parent's key (db/migrations/10), so that
-- attaching links it instead of building it, and its statistics.
ALTER TABLE {groups} ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);
ANALYZE {groups};
