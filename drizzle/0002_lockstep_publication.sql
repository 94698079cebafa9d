-- Lockstep: the logical replication publication for exactly the tables sync.config.ts reads.
-- Written by `npm run sync:generate` (docs/sync-rules.md#publication); regenerate it instead of editing.
DO $lockstep$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'lockstep') THEN
    ALTER PUBLICATION "lockstep" SET TABLE "public"."announcements", "public"."list_members", "public"."lists", "public"."todos", "public"."users";
  ELSE
    CREATE PUBLICATION "lockstep" FOR TABLE "public"."announcements", "public"."list_members", "public"."lists", "public"."todos", "public"."users";
  END IF;
END
$lockstep$;
