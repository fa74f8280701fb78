-- The four layers of the medallion, plus a schema for the SQL helpers the transforms share.
CREATE EXTENSION IF NOT EXISTS postgis;

CREATE SCHEMA IF NOT EXISTS bronze;   -- raw rows exactly as read, one partition per ingestion
CREATE SCHEMA IF NOT EXISTS silver;   -- typed trips and groups of similar trips
CREATE SCHEMA IF NOT EXISTS gold;     -- weekly aggregates that answer the stats queries
CREATE SCHEMA IF NOT EXISTS audit;    -- ingestions and their events: a contract for psql users
CREATE SCHEMA IF NOT EXISTS tripflow; -- pure functions shared by the transforms
