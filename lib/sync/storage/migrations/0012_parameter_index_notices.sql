-- The sync stream's per-checkpoint round (lib/sync/server/hub) re-reads the parameter lookups of the
-- streams it serves only after the parameter index has changed: every statement that writes it sends
-- NOTIFY lockstep_parameters (empty payload; Postgres folds the notices of one transaction into one).
-- The replicator writes the index in the same transaction as, and before, the checkpoint NOTIFY
-- lockstep_checkpoint of the batch, so a listener hears of the change before the checkpoint.
-- Statement-level: one notice per statement, whatever the number of rows (none included), at the
-- cost of a function call per statement; only batches that touch parameter tables run these statements.
CREATE FUNCTION lockstep.notify_parameter_index_change() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_notify('lockstep_parameters', '');
  RETURN NULL;
END
$$;

CREATE TRIGGER parameter_index_changed
  AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON lockstep.parameter_index
  FOR EACH STATEMENT EXECUTE FUNCTION lockstep.notify_parameter_index_change();
