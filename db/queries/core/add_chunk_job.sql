-- Queues one chunk job with graphile-worker, inside the caller's transaction: it exists if and only if
-- the transaction commits. The job key (task:ingestion:chunk) makes a second queueing of the same chunk
-- replace the waiting job instead of adding one.
-- $1 task text, $2 payload json, $3 queue name text or NULL (run in parallel), $4 job key text,
-- $5 priority int (lower runs first), $6 max attempts int.
SELECT graphile_worker.add_job(
  $1::text, $2::json,
  queue_name => $3::text, job_key => $4::text, max_attempts => $6::int, priority => $5::int);
