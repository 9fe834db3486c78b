CREATE TABLE runs (
  id TEXT PRIMARY KEY,
  agent TEXT NOT NULL,
  status TEXT NOT NULL,
  parent_id TEXT,
  idempotency_key TEXT UNIQUE,
  tenant TEXT,
  input TEXT NOT NULL,
  result TEXT,
  error TEXT,
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL,
  wake_at INTEGER,
  wake_requested INTEGER NOT NULL DEFAULT 0,
  lease_owner TEXT,
  lease_token TEXT,
  lease_expires_at INTEGER,
  cancel_requested INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX runs_claimable ON runs (status, wake_at);
CREATE INDEX runs_parent ON runs (parent_id);

CREATE TABLE events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  step TEXT,
  data TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX events_run ON events (run_id, id);

CREATE TABLE blobs (
  hash BLOB PRIMARY KEY,
  data BLOB NOT NULL
) WITHOUT ROWID;

CREATE TABLE effects (
  key TEXT PRIMARY KEY,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  tool TEXT NOT NULL,
  state TEXT NOT NULL,
  result TEXT,
  updated_at INTEGER NOT NULL
);
CREATE INDEX effects_run ON effects (run_id);

CREATE TABLE signals (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  run_id TEXT NOT NULL,
  name TEXT NOT NULL,
  payload TEXT NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX signals_run ON signals (run_id, id);

-- The single worker process allowed to run agents from this file.
CREATE TABLE worker_owner (
  id INTEGER PRIMARY KEY CHECK (id = 1),
  worker_id TEXT NOT NULL,
  pid INTEGER NOT NULL,
  heartbeat_at INTEGER NOT NULL
);
