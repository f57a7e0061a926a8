-- pgbench baseline for one consent write: the statements ConsentsService.record sends through drizzle/node-postgres
-- for POST /v1/subjects/{id}/consents with one decision (captured from the pg client, see bench/README.md), in the
-- same order and in one transaction. bench.ts captures the service's statements for one write on every run and
-- reports a mismatch with this file (statement kinds, tables and column lists) so it cannot silently drift.
-- Run with -M extended (node-postgres sends unnamed parse/bind/execute).
--
-- Variables (-D): tenant (uuid), purpose (key), lo/hi (range of bulk-seeded subjects, ids bulkIdOf(i) in seed.ts),
-- hash (a 64-hex sha256; the service computes the chain hash in Node, so here it is a fixed parameter).
-- Differences kept minimal: the event id, timestamps and the outbox payload are generated server-side
-- (gen_random_uuid(), now(), jsonb_build_object) instead of sent as parameters, the subject id is built from a random integer, and
-- prev_hash goes through nullif() because pgbench \gset turns a NULL ledger_head into an empty string.
\set sidx random(:lo, :hi)
BEGIN;
select "id", "tenant_id", "external_ref", "status", "marketing_objection", "marketing_objection_at", "automated_decision_objection", "automated_decision_objection_at", "restricted", "restricted_at", "data_key_wrapped", "key_id", "ledger_seq", "ledger_head", "created_at", "updated_at" from "subjects" where ("subjects"."tenant_id" = :tenant and "subjects"."id" = ('b0000000-0000-4000-8000-' || lpad(:sidx::text, 12, '0'))::uuid) limit 1 for update \gset s_
select "tenant_id", "key", "version", "legal_basis", "direct_marketing", "automated_decisions", "data_categories", "retention", "recipients", "translations", "created_at", "updated_at" from "purposes" where ("purposes"."tenant_id" = :tenant and "purposes"."key" in (:purpose));
\set seq :s_ledger_seq + 1
insert into "consent_events" ("id", "tenant_id", "subject_id", "seq", "purpose_key", "purpose_version", "action", "source", "evidence_sealed", "occurred_at", "recorded_at", "prev_hash", "hash") values (gen_random_uuid(), :tenant, :s_id, :seq, :purpose, 1, 'grant', 'api', NULL, now(), now(), nullif(:s_ledger_head, ''), :hash);
insert into "consent_state" ("tenant_id", "subject_id", "purpose_key", "status", "purpose_version", "since", "event_id", "updated_at") values (:tenant, :s_id, :purpose, 'granted', 1, now(), gen_random_uuid(), default) on conflict ("subject_id","purpose_key") do update set "status" = excluded.status, "purpose_version" = excluded.purpose_version, "since" = excluded.since, "event_id" = excluded.event_id, "updated_at" = now() where "consent_state"."since" <= excluded.since;
update "subjects" set "ledger_seq" = :seq, "ledger_head" = :hash where ("subjects"."tenant_id" = :tenant and "subjects"."id" = :s_id);
insert into "outbox" ("id", "tenant_id", "topic", "payload", "ref_id", "available_at", "status", "attempts", "enqueued_at", "locked_until", "last_error", "created_at", "finished_at") values (gen_random_uuid(), :tenant, 'event', jsonb_build_object('type', 'consent.granted', 'timestamp', now(), 'data', jsonb_build_object('subject_id', :s_id::text, 'purpose', :purpose::text, 'purpose_version', 1, 'source', 'api', 'occurred_at', now(), 'ledger_event_id', gen_random_uuid())), default, default, default, default, default, default, default, default, default);
COMMIT;
