-- Wake the relay only for rows it has to claim. A fan-out writes its delivery rows already in hand (enqueued and
-- held by the processor that makes their first attempts): a NOTIFY for them woke the relay to claim nothing, and
-- during a backlog those empty claims were most of the relay's statements (2,100 of 2,300 for 20,000 events).
DROP TRIGGER outbox_notify ON outbox;
--> statement-breakpoint
CREATE OR REPLACE FUNCTION rightful_outbox_notify() RETURNS trigger AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM inserted WHERE status = 'pending') THEN
    PERFORM pg_notify('rightful_outbox', '');
  END IF;
  RETURN NULL;
END;
$$ LANGUAGE plpgsql;
--> statement-breakpoint
CREATE TRIGGER outbox_notify AFTER INSERT ON outbox REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT EXECUTE FUNCTION rightful_outbox_notify();
