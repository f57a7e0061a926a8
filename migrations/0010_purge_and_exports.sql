CREATE TABLE "subject_purges" (
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"erased_at" timestamp (3) with time zone NOT NULL,
	"purged_at" timestamp (3) with time zone NOT NULL,
	"ledger_seq" integer NOT NULL,
	"ledger_head" text,
	"requests" integer NOT NULL,
	CONSTRAINT "subject_purges_tenant_id_subject_id_pk" PRIMARY KEY("tenant_id","subject_id")
);
--> statement-breakpoint
CREATE TABLE "export_links" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"token_hash" "bytea" NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"max_downloads" integer NOT NULL,
	"downloads" integer DEFAULT 0 NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	"code_hash" "bytea",
	"code_expires_at" timestamp (3) with time zone,
	"code_attempts" integer DEFAULT 0 NOT NULL,
	"created_by" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "export_packages" (
	"request_id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"status" text DEFAULT 'gathering' NOT NULL,
	"redactions" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"approved_at" timestamp (3) with time zone,
	"approved_by" text,
	"copies" integer DEFAULT 0 NOT NULL,
	"data_deleted_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "export_part_chunks" (
	"part_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"tenant_id" uuid NOT NULL,
	"sealed" "bytea" NOT NULL,
	CONSTRAINT "export_part_chunks_part_id_seq_pk" PRIMARY KEY("part_id","seq")
);
--> statement-breakpoint
CREATE TABLE "export_parts" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"request_id" uuid NOT NULL,
	"task_id" uuid NOT NULL,
	"system_id" uuid,
	"bytes" bigint NOT NULL,
	"chunks" integer NOT NULL,
	"sha256" text NOT NULL,
	"provided_categories" text[] DEFAULT '{}'::text[] NOT NULL,
	"uploaded_at" timestamp (3) with time zone NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "accountability_days" integer DEFAULT 1095 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "export_link_ttl_hours" integer DEFAULT 168 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "export_link_max_downloads" integer DEFAULT 3 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "export_retention_days" integer DEFAULT 30 NOT NULL;--> statement-breakpoint
ALTER TABLE "system_tasks" ADD COLUMN "locator_sealed" "bytea";--> statement-breakpoint
ALTER TABLE "system_tasks" ADD COLUMN "locator_key_wrapped" "bytea";--> statement-breakpoint
ALTER TABLE "system_tasks" ADD COLUMN "locator_key_id" text;--> statement-breakpoint
ALTER TABLE "subject_purges" ADD CONSTRAINT "subject_purges_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_links" ADD CONSTRAINT "export_links_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_links" ADD CONSTRAINT "export_links_request_id_rights_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."rights_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_packages" ADD CONSTRAINT "export_packages_request_id_rights_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."rights_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_packages" ADD CONSTRAINT "export_packages_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_part_chunks" ADD CONSTRAINT "export_part_chunks_part_id_export_parts_id_fk" FOREIGN KEY ("part_id") REFERENCES "public"."export_parts"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_part_chunks" ADD CONSTRAINT "export_part_chunks_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_parts" ADD CONSTRAINT "export_parts_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_parts" ADD CONSTRAINT "export_parts_request_id_rights_requests_id_fk" FOREIGN KEY ("request_id") REFERENCES "public"."rights_requests"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_parts" ADD CONSTRAINT "export_parts_task_id_system_tasks_id_fk" FOREIGN KEY ("task_id") REFERENCES "public"."system_tasks"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "export_parts" ADD CONSTRAINT "export_parts_system_id_systems_id_fk" FOREIGN KEY ("system_id") REFERENCES "public"."systems"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "subject_purges_tenant_purged" ON "subject_purges" USING btree ("tenant_id","purged_at");--> statement-breakpoint
CREATE UNIQUE INDEX "export_links_token" ON "export_links" USING btree ("token_hash");--> statement-breakpoint
CREATE INDEX "export_links_request" ON "export_links" USING btree ("tenant_id","request_id");--> statement-breakpoint
CREATE UNIQUE INDEX "export_parts_task" ON "export_parts" USING btree ("task_id");--> statement-breakpoint
CREATE INDEX "export_parts_request" ON "export_parts" USING btree ("tenant_id","request_id");