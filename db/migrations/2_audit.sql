-- audit.ingestions: one row per ingestion (one file, or one duplicate that was skipped).
CREATE TABLE audit.ingestions (
  id            bigserial PRIMARY KEY,
  file_name     text        NOT NULL,
  sha256        text        NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
  size_bytes    bigint      NOT NULL CHECK (size_bytes >= 0),
  status        text        NOT NULL DEFAULT 'queued'
                CHECK (status IN ('queued', 'loading', 'transforming', 'completed', 'failed', 'skipped')),
  rows_loaded   bigint      NOT NULL DEFAULT 0,
  rows_rejected bigint      NOT NULL DEFAULT 0,
  error         text,
  started_at    timestamptz NOT NULL DEFAULT now(),
  finished_at   timestamptz,
  -- Not part of the published contract, but useful when reading it.
  duplicate_of  bigint REFERENCES audit.ingestions (id),
  archived_as   text,             -- path of the file in ARCHIVE_DIR (or the rejected folder) once moved
  columns       text[],           -- the header's column names, in file order
  chunks        integer,          -- number of bronze chunks, known once the whole file is loaded
  lines         bigint,           -- data lines read from the file, known once the whole file is loaded
  chunk_rows    integer,          -- lines per chunk, fixed at the first load so that a resumed load
                                -- cuts the file at the same lines as the interrupted one
  owner         text              -- application_name of the process loading it; another process may
                                -- take the ingestion over only once no session of that name is left
);

-- At most one live (not failed, not skipped) ingestion per content: the same bytes are stored once.
CREATE UNIQUE INDEX ingestions_live_sha256 ON audit.ingestions (sha256)
  WHERE status NOT IN ('failed', 'skipped');
CREATE INDEX ingestions_status ON audit.ingestions (status) WHERE status NOT IN ('completed', 'failed', 'skipped');

-- audit.events: append-only log of every step. Inserting one sends NOTIFY tripflow_events with its id.
CREATE TABLE audit.events (
  id           bigint PRIMARY KEY,  -- a bigserial whose value the trigger below draws (see there why)
  ingestion_id bigint REFERENCES audit.ingestions (id),
  type         text        NOT NULL,
  stage        text        NOT NULL,
  payload      jsonb       NOT NULL DEFAULT '{}'::jsonb,
  created_at   timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX events_ingestion ON audit.events (ingestion_id, id);
CREATE SEQUENCE audit.events_id_seq OWNED BY audit.events.id;

-- Ids in commit order. A reader that has seen event n must be able to trust that no event below n
-- commits later, or a live stream could skip it. So the id is drawn only after taking a transaction
-- lock that is held until commit: transactions that write events commit in id order. Writers insert
-- their event as the last statement before COMMIT, so the lock is held for a moment only.
CREATE FUNCTION audit.assign_event_id() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(1953067372, 1);  -- two-key form: never collides with one-key locks
  NEW.id := nextval('audit.events_id_seq');
  RETURN NEW;
END;
$$;

CREATE TRIGGER events_assign_id BEFORE INSERT ON audit.events
  FOR EACH ROW EXECUTE FUNCTION audit.assign_event_id();

CREATE FUNCTION audit.notify_event() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  -- The payload is only the id: listeners read the row, so payload size never matters.
  PERFORM pg_notify('tripflow_events', NEW.id::text);
  RETURN NULL;
END;
$$;

CREATE TRIGGER events_notify AFTER INSERT ON audit.events
  FOR EACH ROW EXECUTE FUNCTION audit.notify_event();

-- Per-step markers: a transform writes its marker in the same transaction as its rows, so a step that
-- already committed is never applied twice (graphile-worker may run a job again after a crash).
CREATE TABLE audit.steps (
  ingestion_id bigint      NOT NULL REFERENCES audit.ingestions (id),
  step         text        NOT NULL,
  chunk        integer     NOT NULL DEFAULT 0,
  rows         bigint      NOT NULL DEFAULT 0,
  rejected     bigint      NOT NULL DEFAULT 0,
  finished_at  timestamptz NOT NULL DEFAULT clock_timestamp(),
  PRIMARY KEY (ingestion_id, step, chunk)
);

-- Rows that could not become a trip, with the reason a person can act on.
CREATE TABLE audit.rejects (
  ingestion_id bigint NOT NULL REFERENCES audit.ingestions (id),
  line_no      bigint NOT NULL,
  raw          text   NOT NULL,
  reason       text   NOT NULL,
  PRIMARY KEY (ingestion_id, line_no)
);

-- graphile-worker worker ids by the process (application_name) that runs them: a worker whose process
-- has no session left died without unlocking its jobs, which are then unlocked for others at once
-- (graphile-worker alone would wait four hours). See pipeline/worker.ts.
CREATE TABLE audit.workers (
  worker_id  text        PRIMARY KEY,
  process    text        NOT NULL,
  started_at timestamptz NOT NULL DEFAULT now()
);
