-- events: one B-tree instead of two, the cost of a step's write (issue 12).
-- Every read of the journal is by run, in id order (events_run); the primary
-- key on id alone was a second index every event paid for and no query used.
-- The key becomes (run_id, id): ids stay store-wide and increasing (the
-- sequence is unchanged), and a run's events are still one index range.
CREATE UNIQUE INDEX events_run_key ON events (run_id, id);
ALTER TABLE events DROP CONSTRAINT events_pkey;
ALTER TABLE events ADD CONSTRAINT events_pkey PRIMARY KEY USING INDEX events_run_key;
DROP INDEX events_run;
