CREATE TABLE "tenants" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"name" text NOT NULL,
	"timezone" text DEFAULT 'UTC' NOT NULL,
	"deadline_policy" text DEFAULT 'eu' NOT NULL,
	"holiday_calendar" text,
	"reminder_offsets_days" integer[] DEFAULT '{7,2}'::integer[] NOT NULL,
	"default_locale" text DEFAULT 'en' NOT NULL,
	"index_key_wrapped" "bytea" NOT NULL,
	"key_id" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "purpose_versions" (
	"tenant_id" uuid NOT NULL,
	"key" text NOT NULL,
	"version" integer NOT NULL,
	"legal_basis" text NOT NULL,
	"direct_marketing" boolean DEFAULT false NOT NULL,
	"automated_decisions" boolean DEFAULT false NOT NULL,
	"data_categories" text[] DEFAULT '{}'::text[] NOT NULL,
	"retention" text NOT NULL,
	"recipients" text[] DEFAULT '{}'::text[] NOT NULL,
	"translations" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "purpose_versions_tenant_id_key_version_pk" PRIMARY KEY("tenant_id","key","version")
);
--> statement-breakpoint
CREATE TABLE "purposes" (
	"tenant_id" uuid NOT NULL,
	"key" text NOT NULL,
	"version" integer NOT NULL,
	"legal_basis" text NOT NULL,
	"direct_marketing" boolean DEFAULT false NOT NULL,
	"automated_decisions" boolean DEFAULT false NOT NULL,
	"data_categories" text[] DEFAULT '{}'::text[] NOT NULL,
	"retention" text NOT NULL,
	"recipients" text[] DEFAULT '{}'::text[] NOT NULL,
	"translations" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "purposes_tenant_id_key_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
CREATE TABLE "subject_identifiers" (
	"tenant_id" uuid NOT NULL,
	"type" text NOT NULL,
	"blind_index" "bytea" NOT NULL,
	"subject_id" uuid NOT NULL,
	"value_sealed" "bytea" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "subject_identifiers_tenant_id_type_blind_index_pk" PRIMARY KEY("tenant_id","type","blind_index")
);
--> statement-breakpoint
CREATE TABLE "subjects" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"external_ref" text,
	"status" text DEFAULT 'active' NOT NULL,
	"marketing_objection" boolean DEFAULT false NOT NULL,
	"marketing_objection_at" timestamp (3) with time zone,
	"automated_decision_objection" boolean DEFAULT false NOT NULL,
	"automated_decision_objection_at" timestamp (3) with time zone,
	"restricted" boolean DEFAULT false NOT NULL,
	"restricted_at" timestamp (3) with time zone,
	"data_key_wrapped" "bytea",
	"key_id" text,
	"ledger_seq" integer DEFAULT 0 NOT NULL,
	"ledger_head" text,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consent_events" (
	"id" uuid PRIMARY KEY NOT NULL,
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"seq" integer NOT NULL,
	"purpose_key" text NOT NULL,
	"purpose_version" integer NOT NULL,
	"action" text NOT NULL,
	"source" text NOT NULL,
	"evidence_sealed" "bytea",
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"recorded_at" timestamp (3) with time zone NOT NULL,
	"prev_hash" text,
	"hash" text NOT NULL
);
--> statement-breakpoint
CREATE TABLE "consent_state" (
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"purpose_key" text NOT NULL,
	"status" text NOT NULL,
	"purpose_version" integer NOT NULL,
	"since" timestamp (3) with time zone NOT NULL,
	"event_id" uuid NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "consent_state_subject_id_purpose_key_pk" PRIMARY KEY("subject_id","purpose_key")
);
--> statement-breakpoint
CREATE TABLE "idempotency_keys" (
	"tenant_id" uuid NOT NULL,
	"key" text NOT NULL,
	"fingerprint" text NOT NULL,
	"status_code" integer NOT NULL,
	"response" jsonb NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "idempotency_keys_tenant_id_key_pk" PRIMARY KEY("tenant_id","key")
);
--> statement-breakpoint
ALTER TABLE "purpose_versions" ADD CONSTRAINT "purpose_versions_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "purposes" ADD CONSTRAINT "purposes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subject_identifiers" ADD CONSTRAINT "subject_identifiers_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subject_identifiers" ADD CONSTRAINT "subject_identifiers_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "subjects" ADD CONSTRAINT "subjects_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_events" ADD CONSTRAINT "consent_events_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_state" ADD CONSTRAINT "consent_state_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "consent_state" ADD CONSTRAINT "consent_state_subject_id_subjects_id_fk" FOREIGN KEY ("subject_id") REFERENCES "public"."subjects"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "idempotency_keys" ADD CONSTRAINT "idempotency_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "subject_identifiers_subject" ON "subject_identifiers" USING btree ("subject_id");--> statement-breakpoint
CREATE UNIQUE INDEX "subjects_tenant_external_ref" ON "subjects" USING btree ("tenant_id","external_ref");--> statement-breakpoint
CREATE INDEX "subjects_tenant_created" ON "subjects" USING btree ("tenant_id","created_at");--> statement-breakpoint
CREATE UNIQUE INDEX "consent_events_subject_seq" ON "consent_events" USING btree ("subject_id","seq");--> statement-breakpoint
CREATE INDEX "consent_events_tenant" ON "consent_events" USING btree ("tenant_id");