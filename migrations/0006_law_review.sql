CREATE TABLE "objections" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"purpose_key" text NOT NULL,
	"scope" text NOT NULL,
	"status" text NOT NULL,
	"request_id" uuid,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"decided_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "soft_opt_ins" (
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"purpose_key" text NOT NULL,
	"relationship_ref" text NOT NULL,
	"collected_at" timestamp (3) with time zone NOT NULL,
	"recorded_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "soft_opt_ins_subject_id_purpose_key_pk" PRIMARY KEY("subject_id","purpose_key")
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "controller_contact" jsonb;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "dpo_contact" jsonb;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "supervisory_authority" jsonb;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "judicial_remedy" text;--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD COLUMN "channels" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD COLUMN "transfers" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD COLUMN "provision_requirement" text;--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD COLUMN "data_source" text;--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD COLUMN "automated_decision_exception" text;--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD COLUMN "requires_reconsent" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "channels" text[] DEFAULT '{}'::text[] NOT NULL;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "transfers" jsonb DEFAULT '[]'::jsonb NOT NULL;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "provision_requirement" text;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "data_source" text;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "automated_decision_exception" text;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "requires_reconsent" boolean DEFAULT false NOT NULL;--> statement-breakpoint
ALTER TABLE "purposes" ADD COLUMN "reconsent_from_version" integer;--> statement-breakpoint
ALTER TABLE "subjects" ADD COLUMN "origin" text DEFAULT 'crm' NOT NULL;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD COLUMN "locale" text;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD COLUMN "objection" jsonb;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD COLUMN "restriction_ground" text;--> statement-breakpoint
ALTER TABLE "rights_requests" ADD COLUMN "subject_informed_at" timestamp (3) with time zone;--> statement-breakpoint
ALTER TABLE "objections" ADD CONSTRAINT "objections_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "objections" ADD CONSTRAINT "objections_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "soft_opt_ins" ADD CONSTRAINT "soft_opt_ins_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "soft_opt_ins" ADD CONSTRAINT "soft_opt_ins_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE UNIQUE INDEX "objections_subject_purpose_scope" ON "objections" USING btree ("subject_id","purpose_key","scope");--> statement-breakpoint
CREATE INDEX "objections_request" ON "objections" USING btree ("request_id");