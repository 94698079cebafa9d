-- Bucket storage, in its own database (SYNC_DATABASE_URL). Semantics: docs/storage.md.
-- Valid on PostgreSQL 15 and later. Migrations are append-only: never edit an applied file.
--
-- Identifiers that are compared and sorted a lot (bucket, table, row id, lookup) use the "C"
-- collation: byte order is deterministic whatever the server's locale, and B-tree comparisons
-- are several times cheaper than with a linguistic collation.
--
-- The hot tables carry no foreign keys on purpose: a foreign key costs an index probe per
-- inserted op, and every row is keyed by rules_id, which deleteRulesVersion cleans up.

CREATE SCHEMA IF NOT EXISTS lockstep;

-- One row per compiled version of the sync rules. last_op_id is the op id counter: commitBatch
-- increments it with UPDATE ... RETURNING, and the row lock it takes is held until commit, so
-- op ids are handed out in commit order.
CREATE TABLE lockstep.rules_versions (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  version_hash text NOT NULL,
  state text NOT NULL DEFAULT 'building' CHECK (state IN ('building', 'active', 'retired')),
  slot_name text NOT NULL,
  snapshot_progress jsonb NOT NULL DEFAULT '{"complete": false, "tables": {}}',
  last_lsn pg_lsn,
  last_op_id bigint NOT NULL DEFAULT 0,
  created_at timestamptz NOT NULL DEFAULT now(),
  activated_at timestamptz,
  retired_at timestamptz
);
-- At most one version serves clients and at most one is being built next to it.
CREATE UNIQUE INDEX rules_versions_one_active ON lockstep.rules_versions ((true)) WHERE state = 'active';
CREATE UNIQUE INDEX rules_versions_one_building ON lockstep.rules_versions ((true)) WHERE state = 'building';

-- The op log of every bucket. MOVE and CLEAR ops (written only by compaction) have no table,
-- row id or data; they exist to carry checksums.
CREATE TABLE lockstep.ops (
  rules_id integer NOT NULL,
  bucket text COLLATE "C" NOT NULL,
  op_id bigint NOT NULL,
  op text NOT NULL CHECK (op IN ('PUT', 'REMOVE', 'MOVE', 'CLEAR')),
  table_name text COLLATE "C",
  row_id text COLLATE "C",
  data text,
  checksum bigint NOT NULL CHECK (checksum >= 0 AND checksum < 4294967296),
  PRIMARY KEY (rules_id, bucket, op_id)
);

-- Running totals per bucket, so a checkpoint costs O(buckets changed) and a client's checksum
-- check costs O(1) per bucket. op_count is the number of rows of the bucket in ops (compaction
-- lowers it); compacted_op_id is the checkpoint the latest compaction of the bucket worked up to.
CREATE TABLE lockstep.bucket_state (
  rules_id integer NOT NULL,
  bucket text COLLATE "C" NOT NULL,
  last_op_id bigint NOT NULL,
  checksum bigint NOT NULL CHECK (checksum >= 0 AND checksum < 4294967296),
  op_count bigint NOT NULL,
  compacted_op_id bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (rules_id, bucket)
);

-- A checkpoint is a transaction boundary of the source: every op up to op_id, nothing after.
CREATE TABLE lockstep.checkpoints (
  rules_id integer NOT NULL,
  op_id bigint NOT NULL,
  lsn pg_lsn,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (rules_id, op_id)
);

-- The buckets each source row is in now, and its full column values as text, so the replicator
-- can fill unchanged TOAST columns and emit REMOVE when a row leaves a bucket or is deleted.
CREATE TABLE lockstep.current_rows (
  rules_id integer NOT NULL,
  table_name text COLLATE "C" NOT NULL,
  row_id text COLLATE "C" NOT NULL,
  buckets text[] NOT NULL,
  source_values jsonb NOT NULL,
  PRIMARY KEY (rules_id, table_name, row_id)
);

-- Parameter lookups (e.g. "the lists a user is a member of"): each source row contributes a list
-- of parameter tuples (a JSON array of string arrays) under a lookup key. The primary key serves
-- lookups by (rules_id, lookup); the second index serves "delete every entry of this source row".
CREATE TABLE lockstep.parameter_index (
  rules_id integer NOT NULL,
  lookup text COLLATE "C" NOT NULL,
  source_table text COLLATE "C" NOT NULL,
  source_row_id text COLLATE "C" NOT NULL,
  parameter_values jsonb NOT NULL,
  PRIMARY KEY (rules_id, lookup, source_table, source_row_id)
);
CREATE INDEX parameter_index_by_source ON lockstep.parameter_index (rules_id, source_table, source_row_id);

-- Write checkpoints: "this client's upload was committed at source LSN lsn". A short history
-- per client is kept, so an older write checkpoint already reached is still found while a newer
-- one is pending.
CREATE TABLE lockstep.write_checkpoints (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id text NOT NULL,
  client_id text NOT NULL,
  lsn pg_lsn NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX write_checkpoints_by_client ON lockstep.write_checkpoints (user_id, client_id, id);
