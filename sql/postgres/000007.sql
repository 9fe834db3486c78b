-- Checks the fences of a batch of commits, after locking every run the batch
-- writes or wakes in id order (concurrent batches cannot deadlock on them).
-- Returns, per commit, NULL or why its fence does not hold: 'not-found',
-- 'lease-lost' or 'cancelled'. A commit fenced by a lease token holds while
-- the token matches (and, when asked, no cancel was requested); an operator's
-- commit holds while no live lease exists and the run is in one of the listed
-- statuses (comma-separated). With raise_on_failure, any refusal aborts the
-- transaction instead (SQLSTATE FLF01, the verdicts as a JSON array in
-- DETAIL), so a batch can be sent in one round trip with its writes queued
-- behind the check.
CREATE OR REPLACE FUNCTION flotilla_fence(
  run_ids TEXT[],
  tokens TEXT[],
  not_cancelled BOOLEAN[],
  unleased_in TEXT[],
  lock_ids TEXT[],
  raise_on_failure BOOLEAN
) RETURNS TEXT[] LANGUAGE plpgsql AS $$
DECLARE
  now_ms BIGINT := (extract(epoch from clock_timestamp()) * 1000)::bigint;
  verdicts TEXT[] := '{}';
  refused BOOLEAN := false;
  verdict TEXT;
  r RECORD;
BEGIN
  PERFORM 1 FROM runs WHERE id = ANY(lock_ids) ORDER BY id FOR UPDATE;
  FOR i IN 1 .. coalesce(array_length(run_ids, 1), 0) LOOP
    SELECT status, lease_token, cancel_requested,
      (lease_token IS NOT NULL AND lease_expires_at >= now_ms) AS leased
    INTO r FROM runs WHERE id = run_ids[i];
    IF NOT FOUND THEN
      verdict := 'not-found';
    ELSIF tokens[i] IS NOT NULL THEN
      verdict := CASE
        WHEN r.lease_token IS DISTINCT FROM tokens[i] THEN 'lease-lost'
        WHEN not_cancelled[i] AND r.cancel_requested THEN 'cancelled'
      END;
    ELSIF r.leased OR NOT (r.status = ANY(string_to_array(unleased_in[i], ','))) THEN
      verdict := 'lease-lost';
    ELSE
      verdict := NULL;
    END IF;
    verdicts := array_append(verdicts, verdict);
    refused := refused OR verdict IS NOT NULL;
  END LOOP;
  IF refused AND raise_on_failure THEN
    RAISE EXCEPTION 'a commit''s fence does not hold'
      USING ERRCODE = 'FLF01', DETAIL = array_to_json(verdicts)::text;
  END IF;
  RETURN verdicts;
END $$;
