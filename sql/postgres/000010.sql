-- Agent versions and idempotency-key input hashes (issue 18): see
-- sql/sqlite/000010.sql for the model. Rows from before it have neither: any
-- worker defining their agent claims them, and their key is checked on the
-- agent only.
ALTER TABLE runs ADD COLUMN agent_version TEXT;
ALTER TABLE runs ADD COLUMN input_hash TEXT;

CREATE TABLE worker_agents (
  worker_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  version TEXT NOT NULL,
  accepts TEXT[] NOT NULL,
  expires_at BIGINT NOT NULL,
  PRIMARY KEY (worker_id, agent)
);
