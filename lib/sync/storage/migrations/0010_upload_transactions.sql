-- Uploaded transactions, for idempotency (lib/sync/server/upload; docs/writes.md).
-- The app's writes commit in the app database and this record lives in bucket storage, so the two
-- cannot commit together. Instead the record is written as 'pending' with the app transaction's
-- id (xid8) before that transaction commits; a retry that finds it pending asks the app database
-- whether that transaction committed (pg_xact_status), so a lost response never applies twice.
CREATE TABLE lockstep.upload_transactions (
  transaction_id uuid PRIMARY KEY,
  user_id text NOT NULL,
  client_id text NOT NULL,
  state text NOT NULL CHECK (state IN ('pending', 'applied', 'rejected')),
  app_xid text,
  write_checkpoint bigint,
  error jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX upload_transactions_created_at ON lockstep.upload_transactions (created_at);
