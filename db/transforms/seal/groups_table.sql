-- Target: {groups}, created empty: a table shaped like silver.trip_groups, in segment {segment}, that
-- seal/stage_groups.sql fills in two halves side by side and seal/groups_key.sql keys once both are in.
-- Safe to run twice: it drops what an interrupted seal left and starts again.
DROP TABLE IF EXISTS {groups};
CREATE TABLE {groups} (LIKE silver.trip_groups INCLUDING DEFAULTS INCLUDING CONSTRAINTS, CHECK (segment = {segment}));
