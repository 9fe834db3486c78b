-- Per-worker resilience state (retry budget counts, breaker) shared by all workers.
CREATE TABLE dependency_state (
  dependency TEXT NOT NULL,
  worker_id TEXT NOT NULL,
  state TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (dependency, worker_id)
);
