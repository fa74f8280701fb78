-- The graphile-worker workers whose jobs nobody will finish. Grain: one row, ids: their worker ids
-- (text[]), NULL when there are none. A worker is abandoned when
--   dead:  it is registered in audit.workers and its process has no session left in pg_stat_activity;
--   stray: it has held a job's lock for more than two minutes and nobody registered it (the process was
--          killed between taking the job and registering the worker).
-- No parameters. Reads only; pipeline/transform/worker.ts unlocks what it names.
WITH dead AS (
  SELECT w.worker_id FROM audit.workers AS w
  WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity AS a WHERE a.application_name = w.process)
),

stray AS (
  SELECT DISTINCT j.locked_by AS worker_id FROM graphile_worker.jobs AS j
  WHERE j.locked_by IS NOT NULL AND j.locked_at < now() - interval '2 minutes'
    AND NOT EXISTS (SELECT 1 FROM audit.workers AS w WHERE w.worker_id = j.locked_by)
)

SELECT array_agg(worker_id) AS ids
FROM (SELECT worker_id FROM dead UNION SELECT worker_id FROM stray) AS x;
