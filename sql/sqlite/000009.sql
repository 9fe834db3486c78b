-- Shared state (ctx.state): versioned values in declared regions, shared by
-- every worker of the store.
--
-- A region is declared once, store-wide: the first declaration is recorded
-- and a worker that declares the same name differently is refused, so two
-- versions of the code never merge one key with two reducers.
CREATE TABLE state_regions (
  name TEXT PRIMARY KEY,
  isolation TEXT NOT NULL,
  reducer TEXT,
  declared_at INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per key: the value, its version, the provenance of its last write,
-- and the value folded from verified writes only (what `read(key, { verified:
-- true })` returns). scope is '' for shared regions, the run id for scratch.
-- A row at version 0 with no value is a placeholder (PostgreSQL locks it).
CREATE TABLE state_values (
  region TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  value TEXT,
  all_verified INTEGER NOT NULL DEFAULT 1,
  verified_value TEXT,
  verified_version INTEGER,
  run_id TEXT,
  step TEXT,
  agent TEXT,
  verified INTEGER NOT NULL DEFAULT 0,
  at INTEGER NOT NULL,
  PRIMARY KEY (region, scope, key)
) WITHOUT ROWID;

-- Every write, in version order: what it merged in (its input, not the value
-- after it, so an append list's history stays linear) and who wrote it.
CREATE TABLE state_history (
  region TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  version INTEGER NOT NULL,
  op TEXT NOT NULL,
  input TEXT,
  run_id TEXT,
  step TEXT,
  agent TEXT,
  verified INTEGER NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (region, scope, key, version)
) WITHOUT ROWID;

-- Exactly once: the result of each (run, step) that wrote state, recorded in
-- the write's own transaction. A step replayed after a crash (its journal
-- event lost) finds its result here instead of writing again; the primary key
-- makes a second write by the same step impossible, not merely detected.
CREATE TABLE state_ops (
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  fingerprint TEXT NOT NULL,
  result TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (run_id, step)
) WITHOUT ROWID;

-- Claim regions: a work queue whose items are each leased to one run. An
-- item is available when open, when its lease expired, or when the run that
-- holds it has ended (failed, cancelled, dead-lettered, or completed without
-- marking it done).
CREATE TABLE state_claims (
  region TEXT NOT NULL,
  item TEXT NOT NULL,
  seq INTEGER NOT NULL,
  value TEXT NOT NULL,
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  holder_run TEXT,
  lease_expires_at INTEGER,
  attempts INTEGER NOT NULL DEFAULT 0,
  result TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (region, item)
) WITHOUT ROWID;
CREATE INDEX state_claims_queue ON state_claims (region, status, seq);

-- Runs waiting (ctx.state(...).watch) for a key's version to pass one: the
-- write that passes it wakes them and removes the row.
CREATE TABLE state_watches (
  region TEXT NOT NULL,
  scope TEXT NOT NULL,
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  after_version INTEGER NOT NULL,
  PRIMARY KEY (region, scope, key, run_id, step)
) WITHOUT ROWID;
