-- Queues the seal of one bulk ingestion's segment with graphile-worker, inside the caller's
-- transaction. The job key makes a second queueing replace the waiting job instead of adding one.
-- $1 task text, $2 payload json, $3 queue name text, $4 job key text.
SELECT graphile_worker.add_job($1::text, $2::json, queue_name => $3::text, job_key => $4::text, max_attempts => 10);
