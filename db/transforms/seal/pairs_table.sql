-- Target: {pairs}, one bulk ingestion's weekly cell pairs in segment {segment}, created empty: a table
-- shaped like gold.weekly_cell_pairs, with its checks and `segment = {segment}`. Filled either by the
-- seal (stage_pairs.sql, from the segment's trips) or by the load's last transaction (the pairs counted
-- while the lines were read, when they were few enough: pipeline/bronze/weekly_counts.ts), then keyed
-- by pairs_keys.sql, all in one transaction: the table exists only whole.
-- Safe to run twice: it drops what an interrupted run left.
DROP TABLE IF EXISTS {pairs};
CREATE TABLE {pairs} (LIKE gold.weekly_cell_pairs INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
