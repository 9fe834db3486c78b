-- Fewer pages written per commit, the cost of a step on SQLite.
--
-- events: a plain INTEGER PRIMARY KEY instead of AUTOINCREMENT, which wrote
-- sqlite_sequence on every append. Events are never deleted, so a new id is
-- always the largest plus one: ids still order a run's events and are never
-- reused.
CREATE TABLE events_rowid (
  id INTEGER PRIMARY KEY,
  run_id TEXT NOT NULL,
  type TEXT NOT NULL,
  step TEXT,
  data TEXT NOT NULL,
  at INTEGER NOT NULL
);
INSERT INTO events_rowid (id, run_id, type, step, data, at)
  SELECT id, run_id, type, step, data, at FROM events;
DROP TABLE events;
ALTER TABLE events_rowid RENAME TO events;
CREATE INDEX events_run ON events (run_id, id);

-- effects: clustered on its key (WITHOUT ROWID): the table is its primary-key
-- index, one B-tree to write instead of a table and an index.
CREATE TABLE effects_clustered (
  tool TEXT NOT NULL,
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  state TEXT NOT NULL,
  result TEXT,
  args_hash TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tool, key)
) WITHOUT ROWID;
INSERT INTO effects_clustered (tool, key, run_id, step, state, result, args_hash, updated_at)
  SELECT tool, key, run_id, step, state, result, args_hash, updated_at FROM effects;
DROP TABLE effects;
ALTER TABLE effects_clustered RENAME TO effects;
CREATE INDEX effects_run ON effects (run_id);
