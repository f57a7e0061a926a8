-- Wake the relay when outbox rows are committed (NOTIFY is delivered at commit; the relay also polls).
CREATE OR REPLACE FUNCTION rightful_outbox_notify() RETURNS trigger AS $$
BEGIN
  PERFORM pg_notify('rightful_outbox', '');
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox FOR EACH STATEMENT EXECUTE FUNCTION rightful_outbox_notify();
