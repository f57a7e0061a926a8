CREATE TABLE "portal_codes" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"tenant_id" uuid NOT NULL,
	"subject_id" uuid NOT NULL,
	"action" text NOT NULL,
	"code_hash" "bytea" NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"used_at" timestamp (3) with time zone,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "portal_token_hours" integer DEFAULT 24 NOT NULL;--> statement-breakpoint
ALTER TABLE "tenants" ADD COLUMN "brand_color" text;--> statement-breakpoint
ALTER TABLE "portal_codes" ADD CONSTRAINT "portal_codes_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "portal_codes_subject" ON "portal_codes" USING btree ("tenant_id","subject_id","action","created_at");--> statement-breakpoint
CREATE INDEX "portal_codes_expires" ON "portal_codes" USING btree ("expires_at");--> statement-breakpoint
ALTER TABLE "portal_codes" ADD CONSTRAINT "portal_codes_action" CHECK ("action" IN ('erasure', 'export'));--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_brand_color" CHECK ("brand_color" IS NULL OR "brand_color" ~ '^#[0-9a-f]{6}$');--> statement-breakpoint
ALTER TABLE "tenants" ADD CONSTRAINT "tenants_portal_token_hours" CHECK ("portal_token_hours" BETWEEN 1 AND 720);
