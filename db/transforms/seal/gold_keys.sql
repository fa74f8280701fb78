-- Target: {regions}, {origins} and {destinations} once filled (gold_tables.sql), by the seal: their parents' keys
-- (db/migrations/10), so that attaching links them instead of building them, and their statistics.
ALTER TABLE {regions} ADD PRIMARY KEY (region_id, week, segment);
ALTER TABLE {origins} ADD PRIMARY KEY (cell, week, region_id, segment);
ALTER TABLE {destinations} ADD PRIMARY KEY (cell, week, region_id, segment);
ANALYZE {regions}, {origins}, {destinations};
