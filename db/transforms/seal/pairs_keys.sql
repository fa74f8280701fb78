-- Target: {pairs} once filled (pairs_table.sql): its parent's key (db/migrations/13), so that attaching
-- links it instead of building it, and its statistics.
ALTER TABLE {pairs} ADD PRIMARY KEY (origin_cell, destination_cell, week, region_id, segment) INCLUDE (trips);
ANALYZE {pairs};
