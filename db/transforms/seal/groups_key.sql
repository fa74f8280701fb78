-- Target: {groups}, once both halves are in (seal/stage_groups.sql): the parent's key, so that attaching
-- links it instead of building it (db/migrations/10), and its statistics.
-- Safe to run twice: a second run finds the key there (a seal run again starts from groups_table.sql).
ALTER TABLE {groups} ADD PRIMARY KEY (region_id, origin_cell, destination_cell, slot, segment);
ANALYZE {groups};
