-- Queues the maintenance job (VACUUM ANALYZE of silver and gold) two seconds from now; its fixed job key
-- folds the completions of several ingestions close together into one run.
-- $1 task text, $2 payload json, $3 queue name text.
SELECT graphile_worker.add_job(
  $1::text, $2::json,
  queue_name => $3::text, job_key => 'maintain', run_at => now() + interval '2 seconds', max_attempts => 3);
