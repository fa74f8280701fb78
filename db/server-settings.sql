-- PostgreSQL settings for a server that ingests large files (tripflow's benchmark at 10 M trips on a
-- 2-core, 24 GB machine: drop -> ingestion.completed 567 s with the defaults, 388 s with these; see
-- docs/scalability.md, "Server settings"). Sized for 24 GB of RAM: set shared_buffers to about a
-- quarter of the machine's memory and effective_cache_size to about two thirds.
-- Apply as a superuser, then restart the server (shared_buffers and wal_buffers need a restart):
--   psql -h 127.0.0.1 -U postgres -f db/server-settings.sql
--   pg_ctlcluster 15 main restart          # or: docker compose restart db
-- Undo with ALTER SYSTEM RESET ALL and a restart. docker-compose.yml passes the same values to its db
-- service (test/unit/compose.test.ts keeps the two lists equal).
ALTER SYSTEM SET shared_buffers = '6GB';           -- silver's indexes stay in PostgreSQL's own cache
ALTER SYSTEM SET effective_cache_size = '16GB';
ALTER SYSTEM SET wal_buffers = '64MB';
ALTER SYSTEM SET max_wal_size = '16GB';            -- a checkpoint every 16 GB of WAL, not every 1 GB
ALTER SYSTEM SET min_wal_size = '1GB';
ALTER SYSTEM SET checkpoint_timeout = '30min';
ALTER SYSTEM SET wal_compression = 'lz4';          -- smaller full-page images after each checkpoint
ALTER SYSTEM SET maintenance_work_mem = '1GB';     -- VACUUM and index builds
