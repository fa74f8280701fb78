-- Target: {group_parts}, the sums of a bulk ingestion's groups kept while its lines were read
-- (pipeline/bronze/group_sums.ts), a group possibly in several rows: silver.trip_groups' columns, no
-- key, UNLOGGED (a crash of PostgreSQL empties it, which the seal sees: its trips no longer add up to
-- the segment's). Created at the start of the ingestion's first load, the one that keeps them; dropped
-- by the seal's final transaction, and with the ingestion's other tables.
DROP TABLE IF EXISTS {group_parts};
CREATE UNLOGGED TABLE {group_parts} (LIKE silver.trip_groups INCLUDING DEFAULTS);
