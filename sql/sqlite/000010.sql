-- Agent versions (issue 18). A run records the version of the agent of the
-- worker that last claimed it, and only a worker accepting that version (its
-- own, or one in its agent's compatibleWith) claims it again: a deploy that
-- changes an agent never replays a journal its code did not write. A run no
-- worker has executed yet has none, so any worker defining its agent starts
-- it. Rows from before this migration have none either: any worker defining
-- the agent claims them, and records its version from then on.
ALTER TABLE runs ADD COLUMN agent_version TEXT;

-- A hash of the run's input as stored (canonical JSON): the same idempotency
-- key with another input is refused instead of answered with the old run.
-- Null for rows from before this migration: only their agent is checked.
ALTER TABLE runs ADD COLUMN input_hash TEXT;

-- Which agents, at which versions, each live worker runs: written when it
-- starts and renewed with its leases, so an operator is told when no live
-- worker will run a run (no worker defines its agent, or not its version).
-- accepts is a JSON array of the run versions the worker resumes.
CREATE TABLE worker_agents (
  worker_id TEXT NOT NULL,
  agent TEXT NOT NULL,
  version TEXT NOT NULL,
  accepts TEXT NOT NULL,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (worker_id, agent)
) WITHOUT ROWID;
