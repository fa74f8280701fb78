-- Target: {groups}, one bulk ingestion's groups of similar trips in segment {segment}, created empty: a
-- table shaped like silver.trip_groups, with its checks and `segment = {segment}`. Filled either by the
-- seal (stage_groups.sql, from the segment's trips) or by the load's last transaction (the groups kept
-- while the lines were read, when they were few enough: pipeline/bronze/weekly_counts.ts), then keyed
-- by groups_keys.sql; the seal's final transaction attaches it as a partition (pipeline/transform/seal.ts),
-- so nothing is merged into shared rows.
-- Safe to run twice: it drops what an interrupted run left.
DROP TABLE IF EXISTS {groups};
CREATE TABLE {groups} (LIKE silver.trip_groups INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
