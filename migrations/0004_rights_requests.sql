CREATE TABLE "rights_request_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"action" text NOT NULL,
	"from_status" text,
	"to_status" text,
	"at" timestamp (3) with time zone NOT NULL,
	"recorded_at" timestamp (3) with time zone NOT NULL,
	"actor" text NOT NULL,
	"facts" jsonb,
	"note_sealed" "bytea"
);
--> statement-breakpoint
CREATE TABLE "rights_requests" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"type" text NOT NULL,
	"channel" text NOT NULL,
	"status" text NOT NULL,
	"received_at" timestamp (3) with time zone NOT NULL,
	"details_sealed" "bytea",
	"assignee" text,
	"due_date" date,
	"due_at" timestamp (3) with time zone,
	"pauses" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"extended" boolean DEFAULT false NOT NULL,
	"extension_reason" text,
	"rejection_ground" text,
	"outcome" jsonb,
	"last_transition_at" timestamp (3) with time zone NOT NULL,
	"closed_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "dpo_email" text;--> statement-breakpoint
ALTER TABLE "outbox" ADD COLUMN "ref_id" uuid;--> statement-breakpoint
ALTER TABLE "rights_request_events" ADD CONSTRAINT "rights_request_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rights_request_events" ADD CONSTRAINT "rights_request_events_request_id_rights_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."rights_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD CONSTRAINT "rights_requests_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD CONSTRAINT "rights_requests_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "rights_request_events_seq" ON "rights_request_events" USING btree ("request_id","seq");--> statement-breakpoint
CREATE INDEX "rights_requests_tenant_created" ON "rights_requests" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE INDEX "rights_requests_tenant_due" ON "rights_requests" USING btree ("tenant_id","due_at");--> statement-breakpoint
CREATE INDEX "rights_requests_subject" ON "rights_requests" USING btree ("subject_id");--> statement-breakpoint
CREATE INDEX "outbox_ref_pending" ON "outbox" USING btree ("ref_id") WHERE status = 'pending';