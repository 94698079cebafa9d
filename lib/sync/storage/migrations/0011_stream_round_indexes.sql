-- The sync stream's per-checkpoint round asks "which buckets changed since op id N" (bucketsChangedAt
-- in lib/sync/storage/stream-reads.ts). This index answers it with what changed only, whatever the
-- number of connected clients, instead of one probe per bucket a client holds.
-- It costs the replicator one more index entry per bucket it updates in a batch (such updates are
-- no longer HOT); per bucket touched, not per op.
CREATE INDEX bucket_state_by_last_op ON lockstep.bucket_state (rules_id, last_op_id);

-- And "which write checkpoints has this checkpoint newly reached" (writeCheckpointsReachedAt):
-- those with an LSN after the previous checkpoint's.
CREATE INDEX write_checkpoints_by_lsn ON lockstep.write_checkpoints (lsn);
