-- Queues a compaction of the segments of large files with graphile-worker; its fixed job key makes a
-- second queueing replace the waiting job instead of adding one.
-- $1 task text, $2 queue name text.
SELECT graphile_worker.add_job($1::text, '{}'::json, queue_name => $2::text, job_key => 'compact', max_attempts => 5);
