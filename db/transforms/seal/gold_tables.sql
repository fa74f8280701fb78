-- Target: {regions}, {origins} and {destinations}, one bulk ingestion's weekly counts in segment
-- {segment}, created empty: tables shaped like gold.weekly_regions, gold.weekly_origin_cells and
-- gold.weekly_destination_cells, with their checks and `segment = {segment}`. Filled either by the seal
-- (stage_gold.sql, from the segment's trips) or by the load's last transaction (the counts kept while
-- the lines were read: pipeline/bronze/weekly_counts.ts), then keyed by gold_keys.sql.
-- Safe to run twice: it drops what an interrupted run left.
DROP TABLE IF EXISTS {regions}, {origins}, {destinations};
CREATE TABLE {regions} (LIKE gold.weekly_regions INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
CREATE TABLE {origins} (LIKE gold.weekly_origin_cells INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
CREATE TABLE {destinations} (LIKE gold.weekly_destination_cells INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));

