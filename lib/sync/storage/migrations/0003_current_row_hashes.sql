-- 1. Current rows may hold a hash of the row instead of all of its values
--    (docs/storage.md#current-rows-and-parameters). The replicator reads a stored row back for two
--    things only: the values pgoutput may leave out (unchanged TOAST values, which are never short)
--    and "is this change already in storage?". A hash answers the second; keeping only the long
--    values answers the first. Most rows then store their buckets and a hash, a fraction of the
--    bytes: cheaper to write in every batch, cheaper to read back. A NULL hash means source_values
--    holds the whole row (rows written before this migration).
-- 2. commit_batch is split in two, so that a large batch can COPY its ops between the halves
--    (lib/sync/storage/commit-batch.ts): take_op_ids takes the op id counter, write_batch writes
--    everything else. commit_batch still does both in one round trip for small batches.
ALTER TABLE lockstep.current_rows ADD COLUMN values_hash text;

-- 0002's commit_batch is replaced by a wrapper at the end of this file.
DROP FUNCTION lockstep.commit_batch(integer, integer, pg_lsn, jsonb, boolean, json, json, json, json, json, json, json, json, json, json,
                                    json, json, json, json, json, json, json, json, json, json, json, json, json, json);

-- The first statement of every batch. The op id counter's row lock is held until commit, so
-- concurrent batches queue up here and receive op ids in commit order; the LSN may not go back.
-- Returns one row; when the counter could not be taken, `refused` says which condition failed
-- (not_found, retired, lsn_regression) and the caller rolls back.
CREATE FUNCTION lockstep.take_op_ids(p_rules_id integer, p_op_count integer, p_lsn pg_lsn, p_snapshot_progress jsonb)
RETURNS TABLE (refused text, last_op_id bigint, last_lsn pg_lsn)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_last bigint;
  v_lsn pg_lsn;
  v_state text;
BEGIN
  UPDATE lockstep.rules_versions v
     SET last_op_id = v.last_op_id + p_op_count,
         last_lsn = COALESCE(p_lsn, v.last_lsn),
         snapshot_progress = COALESCE(p_snapshot_progress, v.snapshot_progress)
   WHERE v.id = p_rules_id AND v.state <> 'retired' AND (p_lsn IS NULL OR v.last_lsn IS NULL OR v.last_lsn <= p_lsn)
  RETURNING v.last_op_id, v.last_lsn INTO v_last, v_lsn;
  IF NOT FOUND THEN
    SELECT v.state, v.last_lsn INTO v_state, v_lsn FROM lockstep.rules_versions v WHERE v.id = p_rules_id;
    RETURN QUERY SELECT CASE WHEN v_state IS NULL THEN 'not_found' WHEN v_state = 'retired' THEN 'retired' ELSE 'lsn_regression' END, NULL::bigint, v_lsn;
    RETURN;
  END IF;
  RETURN QUERY SELECT NULL::text, v_last, v_lsn;
END
$$;

-- Everything of a batch after take_op_ids, whose results it takes: the batch's ops are numbered
-- p_last_op_id - p_op_count + 1 .. p_last_op_id. Ops arrive as JSON arrays, or are NULL when the
-- caller has written them with COPY already. Arrays are expanded with json_array_elements[_text]
-- and zipped with ROWS FROM (as in 0002); a NULL column means "nothing of this kind".
CREATE FUNCTION lockstep.write_batch(
  p_rules_id integer,
  p_last_op_id bigint,
  p_op_count integer,
  p_last_lsn pg_lsn,
  p_checkpoint boolean,
  -- ops, in batch order: op k (1-based) gets op id p_last_op_id - p_op_count + k
  p_op_buckets json, p_op_kinds json, p_op_tables json, p_op_row_ids json, p_op_data json, p_op_checksums json,
  -- per bucket touched: position of its last op, sum of its ops' checksums, number of ops
  p_bucket_names json, p_bucket_last_positions json, p_bucket_checksums json, p_bucket_counts json,
  -- current rows: deletes (rows, whole tables) run before upserts
  p_row_delete_tables json, p_row_delete_ids json, p_row_truncate_tables json,
  p_row_tables json, p_row_ids json, p_row_buckets json, p_row_values json, p_row_hashes json,
  -- parameter index: deletes (source rows, whole source tables) run before upserts
  p_param_delete_tables json, p_param_delete_row_ids json, p_param_truncate_tables json,
  p_param_lookups json, p_param_tables json, p_param_row_ids json, p_param_values json
) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_base bigint := p_last_op_id - p_op_count;
BEGIN
  IF p_row_delete_tables IS NOT NULL THEN
    DELETE FROM lockstep.current_rows c
     USING ROWS FROM (json_array_elements_text(p_row_delete_tables), json_array_elements_text(p_row_delete_ids)) AS d(table_name, row_id)
     WHERE c.rules_id = p_rules_id AND c.table_name = d.table_name AND c.row_id = d.row_id;
  END IF;
  IF p_row_truncate_tables IS NOT NULL THEN
    DELETE FROM lockstep.current_rows c
     WHERE c.rules_id = p_rules_id AND c.table_name IN (SELECT json_array_elements_text(p_row_truncate_tables));
  END IF;
  IF p_param_delete_tables IS NOT NULL THEN
    DELETE FROM lockstep.parameter_index p
     USING ROWS FROM (json_array_elements_text(p_param_delete_tables), json_array_elements_text(p_param_delete_row_ids)) AS d(source_table, source_row_id)
     WHERE p.rules_id = p_rules_id AND p.source_table = d.source_table AND p.source_row_id = d.source_row_id;
  END IF;
  IF p_param_truncate_tables IS NOT NULL THEN
    DELETE FROM lockstep.parameter_index p
     WHERE p.rules_id = p_rules_id AND p.source_table IN (SELECT json_array_elements_text(p_param_truncate_tables));
  END IF;

  IF p_op_buckets IS NOT NULL THEN
    INSERT INTO lockstep.ops (rules_id, bucket, op_id, op, table_name, row_id, data, checksum)
    SELECT p_rules_id, o.bucket, v_base + o.ord, o.op, o.table_name, o.row_id, o.data, o.checksum::bigint
      FROM ROWS FROM (json_array_elements_text(p_op_buckets), json_array_elements_text(p_op_kinds), json_array_elements_text(p_op_tables),
                      json_array_elements_text(p_op_row_ids), json_array_elements_text(p_op_data), json_array_elements_text(p_op_checksums))
           WITH ORDINALITY AS o(bucket, op, table_name, row_id, data, checksum, ord);
  END IF;
  IF p_bucket_names IS NOT NULL THEN
    INSERT INTO lockstep.bucket_state AS s (rules_id, bucket, last_op_id, checksum, op_count)
    SELECT p_rules_id, b.bucket, v_base + b.last_pos::bigint, b.checksum::bigint, b.op_count::bigint
      FROM ROWS FROM (json_array_elements_text(p_bucket_names), json_array_elements_text(p_bucket_last_positions),
                      json_array_elements_text(p_bucket_checksums), json_array_elements_text(p_bucket_counts)) AS b(bucket, last_pos, checksum, op_count)
    ON CONFLICT (rules_id, bucket) DO UPDATE
       SET last_op_id = EXCLUDED.last_op_id,
           checksum = (s.checksum + EXCLUDED.checksum) % 4294967296,
           op_count = s.op_count + EXCLUDED.op_count;
  END IF;

  IF p_row_tables IS NOT NULL THEN
    INSERT INTO lockstep.current_rows AS c (rules_id, table_name, row_id, buckets, source_values, values_hash)
    SELECT p_rules_id, u.table_name, u.row_id, u.buckets::jsonb, u.source_values, u.values_hash
      FROM ROWS FROM (json_array_elements_text(p_row_tables), json_array_elements_text(p_row_ids),
                      json_array_elements(p_row_buckets), json_array_elements(p_row_values),
                      json_array_elements_text(p_row_hashes)) AS u(table_name, row_id, buckets, source_values, values_hash)
    ON CONFLICT (rules_id, table_name, row_id) DO UPDATE
       SET buckets = EXCLUDED.buckets, source_values = EXCLUDED.source_values, values_hash = EXCLUDED.values_hash;
  END IF;

  IF p_param_lookups IS NOT NULL THEN
    INSERT INTO lockstep.parameter_index AS p (rules_id, lookup, source_table, source_row_id, parameter_values)
    SELECT p_rules_id, u.lookup, u.source_table, u.source_row_id, u.parameter_values::jsonb
      FROM ROWS FROM (json_array_elements_text(p_param_lookups), json_array_elements_text(p_param_tables),
                      json_array_elements_text(p_param_row_ids), json_array_elements(p_param_values)) AS u(lookup, source_table, source_row_id, parameter_values)
    ON CONFLICT (rules_id, lookup, source_table, source_row_id) DO UPDATE SET parameter_values = EXCLUDED.parameter_values;
  END IF;

  IF p_checkpoint THEN
    -- A batch without ops checkpoints at the current op id again: only its LSN moves on.
    INSERT INTO lockstep.checkpoints AS k (rules_id, op_id, lsn) VALUES (p_rules_id, p_last_op_id, p_last_lsn)
    ON CONFLICT (rules_id, op_id) DO UPDATE SET lsn = EXCLUDED.lsn, created_at = now();
    PERFORM pg_notify('lockstep_checkpoint', p_rules_id || ':' || p_last_op_id);
  END IF;
END
$$;

-- A whole batch in ONE round trip, as a single autocommit statement: take_op_ids, then
-- write_batch. Because the functions are VOLATILE, every statement after the counter runs with a
-- fresh snapshot that sees the batches committed while this one waited for the counter.
CREATE FUNCTION lockstep.commit_batch(
  p_rules_id integer, p_op_count integer, p_lsn pg_lsn, p_snapshot_progress jsonb, p_checkpoint boolean,
  p_op_buckets json, p_op_kinds json, p_op_tables json, p_op_row_ids json, p_op_data json, p_op_checksums json,
  p_bucket_names json, p_bucket_last_positions json, p_bucket_checksums json, p_bucket_counts json,
  p_row_delete_tables json, p_row_delete_ids json, p_row_truncate_tables json,
  p_row_tables json, p_row_ids json, p_row_buckets json, p_row_values json, p_row_hashes json,
  p_param_delete_tables json, p_param_delete_row_ids json, p_param_truncate_tables json,
  p_param_lookups json, p_param_tables json, p_param_row_ids json, p_param_values json
) RETURNS TABLE (refused text, last_op_id bigint, last_lsn text)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
DECLARE
  v_refused text;
  v_last bigint;
  v_lsn pg_lsn;
BEGIN
  SELECT t.refused, t.last_op_id, t.last_lsn INTO v_refused, v_last, v_lsn FROM lockstep.take_op_ids(p_rules_id, p_op_count, p_lsn, p_snapshot_progress) t;
  IF v_refused IS NULL THEN
    PERFORM lockstep.write_batch(p_rules_id, v_last, p_op_count, v_lsn, p_checkpoint,
      p_op_buckets, p_op_kinds, p_op_tables, p_op_row_ids, p_op_data, p_op_checksums,
      p_bucket_names, p_bucket_last_positions, p_bucket_checksums, p_bucket_counts,
      p_row_delete_tables, p_row_delete_ids, p_row_truncate_tables,
      p_row_tables, p_row_ids, p_row_buckets, p_row_values, p_row_hashes,
      p_param_delete_tables, p_param_delete_row_ids, p_param_truncate_tables,
      p_param_lookups, p_param_tables, p_param_row_ids, p_param_values);
  END IF;
  RETURN QUERY SELECT v_refused, v_last, v_lsn::text;
END
$$;

-- 0002's signature, for replicators of the previous release still running during a rolling
-- deploy: they store whole rows, so their rows get no hash (a NULL hash says "values complete").
CREATE FUNCTION lockstep.commit_batch(
  p_rules_id integer, p_op_count integer, p_lsn pg_lsn, p_snapshot_progress jsonb, p_checkpoint boolean,
  p_op_buckets json, p_op_kinds json, p_op_tables json, p_op_row_ids json, p_op_data json, p_op_checksums json,
  p_bucket_names json, p_bucket_last_positions json, p_bucket_checksums json, p_bucket_counts json,
  p_row_delete_tables json, p_row_delete_ids json, p_row_truncate_tables json,
  p_row_tables json, p_row_ids json, p_row_buckets json, p_row_values json,
  p_param_delete_tables json, p_param_delete_row_ids json, p_param_truncate_tables json,
  p_param_lookups json, p_param_tables json, p_param_row_ids json, p_param_values json
) RETURNS TABLE (refused text, base_op_id bigint, last_op_id bigint, last_lsn text)
LANGUAGE sql VOLATILE AS $$
  SELECT c.refused, c.last_op_id - p_op_count, c.last_op_id, c.last_lsn
    FROM lockstep.commit_batch(p_rules_id, p_op_count, p_lsn, p_snapshot_progress, p_checkpoint,
      p_op_buckets, p_op_kinds, p_op_tables, p_op_row_ids, p_op_data, p_op_checksums,
      p_bucket_names, p_bucket_last_positions, p_bucket_checksums, p_bucket_counts,
      p_row_delete_tables, p_row_delete_ids, p_row_truncate_tables,
      p_row_tables, p_row_ids, p_row_buckets, p_row_values,
      NULL, -- no hashes: ROWS FROM pads the missing column with NULLs
      p_param_delete_tables, p_param_delete_row_ids, p_param_truncate_tables,
      p_param_lookups, p_param_tables, p_param_row_ids, p_param_values) c
$$;
