ALTER TABLE "subjects" ADD COLUMN "marketing_objection_source" text;--> statement-breakpoint
ALTER TABLE "subjects" ADD COLUMN "marketing_objection_evidence_sealed" "bytea";--> statement-breakpoint
ALTER TABLE "subjects" ADD COLUMN "automated_decision_objection_source" text;--> statement-breakpoint
ALTER TABLE "subjects" ADD COLUMN "automated_decision_objection_evidence_sealed" "bytea";--> statement-breakpoint
ALTER TABLE "objections" ADD COLUMN "source" text;--> statement-breakpoint
ALTER TABLE "objections" ADD COLUMN "evidence_sealed" "bytea";