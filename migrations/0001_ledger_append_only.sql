-- The consent ledger is append-only: UPDATE, DELETE and TRUNCATE are refused unless the transaction
-- declares itself an erasure (SET LOCAL rightful.erasure = 'on'), which only the erasure service does.
CREATE OR REPLACE FUNCTION rightful_ledger_append_only() RETURNS trigger AS $$
BEGIN
  IF coalesce(current_setting('rightful.erasure', true), '') = 'on' THEN
    IF TG_OP = 'DELETE' THEN RETURN OLD; END IF;
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'consent_events is append-only (% refused)', TG_OP USING ERRCODE = 'insufficient_privilege';
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER consent_events_append_only BEFORE UPDATE OR DELETE ON consent_events
  FOR EACH ROW EXECUTE FUNCTION rightful_ledger_append_only();
--> statement-breakpoint
CREATE TRIGGER consent_events_no_truncate BEFORE TRUNCATE ON consent_events
  FOR EACH STATEMENT EXECUTE FUNCTION rightful_ledger_append_only();
