CREATE TABLE "service_tokens" (
	"jti" text PRIMARY KEY NOT NULL,
	"tenant_id" uuid,
	"sub" text,
	"scopes" text[] DEFAULT '{}'::text[] NOT NULL,
	"issued_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"expires_at" timestamp (3) with time zone NOT NULL,
	"revoked_at" timestamp (3) with time zone,
	"revoked_reason" text
);
--> statement-breakpoint
ALTER TABLE "service_tokens" ADD CONSTRAINT "service_tokens_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "service_tokens_tenant_expires" ON "service_tokens" USING btree ("tenant_id","expires_at");--> statement-breakpoint
CREATE INDEX "service_tokens_revoked" ON "service_tokens" USING btree ("revoked_at");