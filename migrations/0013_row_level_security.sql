-- Tenant isolation that the database enforces: row-level security, forced, on every table holding tenant data.
-- The API and the worker connect as an application role that owns nothing and has no BYPASSRLS (src/db/roles.ts
-- creates it and grants it rows, never ownership); each checkout of a connection names the tenant of the request or
-- job in `rightful.tenant_id` (src/db/client.ts), and a row of any other tenant is neither visible nor writable.
-- With no tenant named, every policy is false: a query that forgets its tenant returns nothing.
CREATE FUNCTION rightful_current_tenant() RETURNS uuid
  LANGUAGE sql STABLE PARALLEL SAFE
  AS $$ SELECT nullif(current_setting('rightful.tenant_id', true), '')::uuid $$;
--> statement-breakpoint
DO $$
DECLARE
  t text;
BEGIN
  FOREACH t IN ARRAY ARRAY[
    'purposes', 'purpose_versions', 'subjects', 'subject_identifiers', 'subject_purges', 'consent_events',
    'consent_state', 'consent_event_corrections', 'objections', 'soft_opt_ins', 'suppressions', 'idempotency_keys',
    'outbox', 'webhook_endpoints', 'webhook_deliveries', 'webhook_attempts', 'rights_requests',
    'rights_request_events', 'systems', 'system_tasks', 'export_packages', 'export_parts', 'export_part_chunks',
    'export_links', 'portal_codes'
  ] LOOP
    EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
    -- Forced: the owner too passes through the policies; its own policy below is the one that lets it see all.
    EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
    EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (tenant_id = rightful_current_tenant()) WITH CHECK (tenant_id = rightful_current_tenant())', t);
    -- The migrating role (the owner) keeps every row: migrations, the operator's CLI (repair, purge, tokens) and the
    -- few cross-tenant functions below run as it. The application role is never the owner.
    EXECUTE format('CREATE POLICY owner_maintenance ON %I TO %I USING (true) WITH CHECK (true)', t, current_user);
  END LOOP;
END $$;
--> statement-breakpoint
ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON tenants USING (id = rightful_current_tenant()) WITH CHECK (id = rightful_current_tenant());
--> statement-breakpoint
-- A revocation of a token Rightful did not mint (an identity provider's) names no tenant: its row holds a jti only.
-- The application reads revocations through rightful_revoked_jtis() and writes none; the CLI writes them as owner.
ALTER TABLE service_tokens ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE service_tokens FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY tenant_isolation ON service_tokens USING (tenant_id = rightful_current_tenant()) WITH CHECK (tenant_id = rightful_current_tenant());
--> statement-breakpoint
DO $$
BEGIN
  EXECUTE format('CREATE POLICY owner_maintenance ON tenants TO %I USING (true) WITH CHECK (true)', current_user);
  EXECUTE format('CREATE POLICY owner_maintenance ON service_tokens TO %I USING (true) WITH CHECK (true)', current_user);
END $$;
--> statement-breakpoint
-- The work that has no tenant yet, each a narrow function run as the owner (SECURITY DEFINER) that answers ids only:
-- the relay claiming due outbox rows of every tenant, the reconciler finding rows whose jobs may have vanished, the
-- denylist of revoked jtis, the lookup of a callback or download token's tenant, and the metrics' totals.
CREATE FUNCTION rightful_outbox_claim(p_limit int, p_now timestamptz)
  RETURNS TABLE (id uuid, tenant_id uuid, topic text, attempts int)
  LANGUAGE sql VOLATILE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    UPDATE outbox o SET status = 'enqueued', enqueued_at = now(), attempts = o.attempts + 1, locked_until = NULL
     WHERE o.id IN (
       SELECT x.id FROM outbox x WHERE x.status = 'pending' AND x.available_at <= p_now
        ORDER BY x.available_at LIMIT p_limit FOR UPDATE SKIP LOCKED)
    RETURNING o.id, o.tenant_id, o.topic, o.attempts
  $$;
--> statement-breakpoint
CREATE FUNCTION rightful_outbox_overdue(p_older_than_ms int, p_limit int)
  RETURNS TABLE (id uuid, tenant_id uuid, topic text, attempts int)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT o.id, o.tenant_id, o.topic, o.attempts FROM outbox o
     WHERE o.status = 'enqueued' AND o.enqueued_at < now() - make_interval(secs => p_older_than_ms / 1000.0)
       AND (o.locked_until IS NULL OR o.locked_until < now())
     ORDER BY o.enqueued_at LIMIT p_limit
  $$;
--> statement-breakpoint
CREATE FUNCTION rightful_revoked_jtis(p_not_expired_before timestamptz)
  RETURNS SETOF text
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT jti FROM service_tokens WHERE revoked_at IS NOT NULL AND expires_at > p_not_expired_before $$;
--> statement-breakpoint
CREATE FUNCTION rightful_task_tenant(p_task_id uuid)
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM system_tasks WHERE id = p_task_id $$;
--> statement-breakpoint
CREATE FUNCTION rightful_export_link_tenant(p_token_hash bytea)
  RETURNS uuid
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$ SELECT tenant_id FROM export_links WHERE token_hash = p_token_hash $$;
--> statement-breakpoint
CREATE FUNCTION rightful_metrics_snapshot(p_now timestamptz, p_open_statuses text[])
  RETURNS TABLE (outbox_due int, outbox_oldest_due_age float8, requests json, deliveries json)
  LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp
  AS $$
    SELECT
      (SELECT count(*)::int FROM outbox WHERE status = 'pending' AND available_at <= p_now),
      (SELECT coalesce(extract(epoch FROM p_now - min(available_at)), 0)::float8
         FROM outbox WHERE status = 'pending' AND available_at <= p_now),
      (SELECT coalesce(json_agg(r), '[]'::json) FROM (
         SELECT type, count(*)::int AS open, (count(*) FILTER (WHERE due_at < p_now))::int AS overdue
           FROM rights_requests WHERE status = ANY(p_open_statuses) GROUP BY type) r),
      (SELECT coalesce(json_agg(d), '[]'::json) FROM (
         SELECT status, count(*)::int AS n FROM webhook_deliveries GROUP BY status) d)
  $$;
--> statement-breakpoint
REVOKE EXECUTE ON FUNCTION rightful_outbox_claim(int, timestamptz), rightful_outbox_overdue(int, int),
  rightful_revoked_jtis(timestamptz), rightful_task_tenant(uuid), rightful_export_link_tenant(bytea),
  rightful_metrics_snapshot(timestamptz, text[]) FROM PUBLIC;
