CREATE TABLE "suppressions" (
	"tenant_id" uuid NOT NULL,
	"type" text NOT NULL,
	"blind_index" "bytea" NOT NULL,
	"purpose_key" text DEFAULT '*' NOT NULL,
	"request_id" uuid,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "suppressions_tenant_id_type_blind_index_purpose_key_pk" PRIMARY KEY("tenant_id","type","blind_index","purpose_key")
);
--> statement-breakpoint
CREATE TABLE "systems" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"data_categories" text[] DEFAULT '{}'::text[] NOT NULL,
	"handles" text[] DEFAULT '{}'::text[] NOT NULL,
	"recipient" boolean DEFAULT false NOT NULL,
	"processor" boolean DEFAULT false NOT NULL,
	"webhook_endpoint_id" uuid,
	"contact_email" text,
	"deleted_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "system_tasks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"system_id" uuid,
	"kind" text NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"exemption" jsonb,
	"callback_token_hash" "bytea",
	"callback_used_at" timestamp (3) with time zone,
	"sends" integer DEFAULT 0 NOT NULL,
	"notified_at" timestamp (3) with time zone,
	"answered_at" timestamp (3) with time zone,
	"reason_sealed" "bytea",
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "suppress_erased" boolean DEFAULT true NOT NULL;--> statement-breakpoint
ALTER TABLE "subjects" ADD COLUMN "erased_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD COLUMN "erasure_ground" text;--> statement-breakpoint
ALTER TABLE "suppressions" ADD CONSTRAINT "suppressions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "systems" ADD CONSTRAINT "systems_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "systems" ADD CONSTRAINT "systems_webhook_endpoint_id_webhook_endpoints_id_fk" FOREIGN KEY ("webhook_endpoint_id") REFERENCES "public"."webhook_endpoints"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "system_tasks" ADD CONSTRAINT "system_tasks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "system_tasks" ADD CONSTRAINT "system_tasks_request_id_rights_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."rights_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "system_tasks" ADD CONSTRAINT "system_tasks_system_id_systems_id_fk" FOREIGN KEY ("system_id") REFERENCES "public"."systems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "systems_tenant_created" ON "systems" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "system_tasks_request_system_kind" ON "system_tasks" USING btree ("request_id","system_id","kind");--> statement-breakpoint
CREATE INDEX "system_tasks_tenant_status" ON "system_tasks" USING btree ("tenant_id","status");--> statement-breakpoint
CREATE INDEX "system_tasks_system" ON "system_tasks" USING btree ("system_id");