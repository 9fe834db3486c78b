-- Effect keys are scoped by tool: two tools that both key by `order:${id}`
-- are two units of work, not one. The fingerprint of the arguments lets a
-- dedupe hit refuse a different call that reuses a key.
CREATE TABLE effects_by_tool (
  tool TEXT NOT NULL,
  key TEXT NOT NULL,
  run_id TEXT NOT NULL,
  step TEXT NOT NULL,
  state TEXT NOT NULL,
  result TEXT,
  args_hash TEXT,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (tool, key)
);
INSERT INTO effects_by_tool (tool, key, run_id, step, state, result, updated_at)
  SELECT tool, key, run_id, step, state, result, updated_at FROM effects;
DROP TABLE effects;
ALTER TABLE effects_by_tool RENAME TO effects;
CREATE INDEX effects_run ON effects (run_id);
