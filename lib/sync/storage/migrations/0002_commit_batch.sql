-- commitBatch in ONE round trip (lib/sync/storage/commit-batch.ts validates, checksums and
-- encodes; this function writes). Called as a single autocommit statement, so the batch is all or
-- nothing and its NOTIFY is delivered at commit. A round trip costs as much as writing 100 ops,
-- and a batch used to need four (BEGIN, take op ids, write, COMMIT).
--
-- Order matters: the op id counter is taken first, so its row lock (held until commit) makes
-- concurrent batches queue up and receive op ids in commit order; and because the function is
-- VOLATILE, every statement after it runs with a fresh snapshot that sees the batches committed
-- while it waited (a DELETE with an older snapshot would miss their rows).
--
-- Arrays arrive as JSON text, one parameter per column, expanded with json_array_elements[_text]
-- and zipped with ROWS FROM: JSON.stringify is far cheaper than pg's text[] literals. A NULL
-- column means "nothing of this kind in the batch".

-- Current rows are written in bulk with every batch (a snapshot writes one per source row) and
-- only ever read back whole, so they are stored in the form that is cheapest to write: the
-- bucket list as jsonb (no per-row array construction) and the values as json (kept as text).
ALTER TABLE lockstep.current_rows
  ALTER COLUMN buckets TYPE jsonb USING to_jsonb(buckets),
  ALTER COLUMN source_values TYPE json USING source_values::json;

CREATE FUNCTION lockstep.commit_batch(
  p_rules_id integer,
  p_op_count integer,
  p_lsn pg_lsn,
  p_snapshot_progress jsonb,
  p_checkpoint boolean,
  -- ops, in batch order: op k (1-based) gets op id base + k
  p_op_buckets json, p_op_kinds json, p_op_tables json, p_op_row_ids json, p_op_data json, p_op_checksums json,
  -- per bucket touched: position of its last op, sum of its ops' checksums, number of ops
  p_bucket_names json, p_bucket_last_positions json, p_bucket_checksums json, p_bucket_counts json,
  -- current rows: deletes (rows, whole tables) run before upserts
  p_row_delete_tables json, p_row_delete_ids json, p_row_truncate_tables json,
  p_row_tables json, p_row_ids json, p_row_buckets json, p_row_values json,
  -- parameter index: deletes (source rows, whole source tables) run before upserts
  p_param_delete_tables json, p_param_delete_row_ids json, p_param_truncate_tables json,
  p_param_lookups json, p_param_tables json, p_param_row_ids json, p_param_values json
) RETURNS TABLE (refused text, base_op_id bigint, last_op_id bigint, last_lsn text)
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
    RETURN QUERY SELECT CASE WHEN v_state IS NULL THEN 'not_found' WHEN v_state = 'retired' THEN 'retired' ELSE 'lsn_regression' END,
                        NULL::bigint, NULL::bigint, v_lsn::text;
    RETURN;
  END IF;

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

  IF p_op_count > 0 THEN
    INSERT INTO lockstep.ops (rules_id, bucket, op_id, op, table_name, row_id, data, checksum)
    SELECT p_rules_id, o.bucket, v_last - p_op_count + o.ord, o.op, o.table_name, o.row_id, o.data, o.checksum::bigint
      FROM ROWS FROM (json_array_elements_text(p_op_buckets), json_array_elements_text(p_op_kinds), json_array_elements_text(p_op_tables),
                      json_array_elements_text(p_op_row_ids), json_array_elements_text(p_op_data), json_array_elements_text(p_op_checksums))
           WITH ORDINALITY AS o(bucket, op, table_name, row_id, data, checksum, ord);

    INSERT INTO lockstep.bucket_state AS s (rules_id, bucket, last_op_id, checksum, op_count)
    SELECT p_rules_id, b.bucket, v_last - p_op_count + b.last_pos::bigint, b.checksum::bigint, b.op_count::bigint
      FROM ROWS FROM (json_array_elements_text(p_bucket_names), json_array_elements_text(p_bucket_last_positions),
                      json_array_elements_text(p_bucket_checksums), json_array_elements_text(p_bucket_counts)) AS b(bucket, last_pos, checksum, op_count)
    ON CONFLICT (rules_id, bucket) DO UPDATE
       SET last_op_id = EXCLUDED.last_op_id,
           checksum = (s.checksum + EXCLUDED.checksum) % 4294967296,
           op_count = s.op_count + EXCLUDED.op_count;
  END IF;

  IF p_row_tables IS NOT NULL THEN
    INSERT INTO lockstep.current_rows AS c (rules_id, table_name, row_id, buckets, source_values)
    SELECT p_rules_id, u.table_name, u.row_id, u.buckets::jsonb, u.source_values
      FROM ROWS FROM (json_array_elements_text(p_row_tables), json_array_elements_text(p_row_ids),
                      json_array_elements(p_row_buckets), json_array_elements(p_row_values)) AS u(table_name, row_id, buckets, source_values)
    ON CONFLICT (rules_id, table_name, row_id) DO UPDATE SET buckets = EXCLUDED.buckets, source_values = EXCLUDED.source_values;
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
    INSERT INTO lockstep.checkpoints AS k (rules_id, op_id, lsn) VALUES (p_rules_id, v_last, v_lsn)
    ON CONFLICT (rules_id, op_id) DO UPDATE SET lsn = EXCLUDED.lsn, created_at = now();
    PERFORM pg_notify('lockstep_checkpoint', p_rules_id || ':' || v_last);
  END IF;

  RETURN QUERY SELECT NULL::text, v_last - p_op_count, v_last, v_lsn::text;
END
$$;
