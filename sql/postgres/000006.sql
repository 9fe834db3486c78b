-- Effect keys are scoped by tool: two tools that both key by `order:${id}`
-- are two units of work, not one. The fingerprint of the arguments lets a
-- dedupe hit refuse a different call that reuses a key.
ALTER TABLE effects DROP CONSTRAINT effects_pkey;
ALTER TABLE effects ADD PRIMARY KEY (tool, key);
ALTER TABLE effects ADD COLUMN args_hash TEXT;
