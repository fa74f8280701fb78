-- Target: {regions}, {origins}, {destinations} and {pairs}, the weekly counts of several segments of large
-- files ({region_sources}, {origin_sources}, {destination_sources}, {pair_sources}: the UNION ALL of their
-- gold tables)
-- added up into one row per key, segment {segment}, with gold's keys, attached in their place by the
-- compaction's final transaction (pipeline/transform/compact.ts).
-- Safe to run twice: one transaction (the statements go as one query); a second run builds them again.
DROP TABLE IF EXISTS {regions}, {origins}, {destinations}, {pairs};
CREATE TABLE {regions} (LIKE gold.weekly_regions INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
CREATE TABLE {origins} (LIKE gold.weekly_origin_cells INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
CREATE TABLE {destinations} (LIKE gold.weekly_destination_cells INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
CREATE TABLE {pairs} (LIKE gold.weekly_cell_pairs INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
INSERT INTO {regions} (region_id, week, trips, segment)
SELECT g.region_id, g.week, sum(g.trips), {segment} FROM ({region_sources}) AS g GROUP BY 1, 2 ORDER BY 1, 2;
INSERT INTO {origins} (region_id, week, cell, trips, segment)
SELECT g.region_id, g.week, g.cell, sum(g.trips), {segment} FROM ({origin_sources}) AS g GROUP BY 1, 2, 3 ORDER BY 3, 2, 1;
INSERT INTO {destinations} (region_id, week, cell, trips, segment)
SELECT g.region_id, g.week, g.cell, sum(g.trips), {segment} FROM ({destination_sources}) AS g GROUP BY 1, 2, 3 ORDER BY 3, 2, 1;
INSERT INTO {pairs} (region_id, week, origin_cell, destination_cell, trips, segment)
SELECT g.region_id, g.week, g.origin_cell, g.destination_cell, sum(g.trips), {segment} FROM ({pair_sources}) AS g GROUP BY 1, 2, 3, 4 ORDER BY 3, 4, 2, 1;
ALTER TABLE {regions} ADD PRIMARY KEY (region_id, week, segment);
ALTER TABLE {origins} ADD PRIMARY KEY (cell, week, region_id, segment);
ALTER TABLE {destinations} ADD PRIMARY KEY (cell, week, region_id, segment);
ALTER TABLE {pairs} ADD PRIMARY KEY (origin_cell, destination_cell, week, region_id, segment) INCLUDE (trips);
ANALYZE {regions}, {origins}, {destinations}, {pairs};
