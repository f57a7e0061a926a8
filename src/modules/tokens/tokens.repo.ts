// Service tokens by jti: recording what the CLI mints, revoking, listing the live ones, and the denylist's source.
import { and, asc, eq, gt, isNull, sql } from 'drizzle-orm';
import type { Tx } from '../../db/client.js';
import { serviceTokens } from './tokens.table.js';

export type ServiceToken = { jti: string; tenant_id: string | null; sub: string | null; scopes: string[]; issued_at: string; expires_at: string };
export type Revocation = { jti: string; revoked_at: string; known: boolean };

type Row = typeof serviceTokens.$inferSelect;
const toToken = (r: Row): ServiceToken => ({
  jti: r.jti,
  tenant_id: r.tenantId,
  sub: r.sub,
  scopes: r.scopes,
  issued_at: r.issuedAt.toISOString(),
  expires_at: r.expiresAt.toISOString(),
});

export function createServiceTokensRepo(db: Tx) {
  return {
    async record(t: { jti: string; tenantId: string; sub: string; scopes: string[]; issuedAt: Date; expiresAt: Date }, tx: Tx = db): Promise<void> {
      await tx.insert(serviceTokens).values(t);
    },

    /** Marks a jti revoked (the first revocation's time and reason are kept). A jti not minted here (an identity
     * provider's token) gets a row with no tenant or subject, kept until `untilIfUnknown`. */
    async revoke(jti: string, o: { now: Date; reason: string | null; untilIfUnknown: Date }, tx: Tx = db): Promise<Revocation> {
      const [updated] = await tx
        .update(serviceTokens)
        .set({ revokedAt: sql`coalesce(${serviceTokens.revokedAt}, ${o.now.toISOString()}::timestamptz)`, revokedReason: sql`coalesce(${serviceTokens.revokedReason}, ${o.reason})` })
        .where(eq(serviceTokens.jti, jti))
        .returning({ revokedAt: serviceTokens.revokedAt, sub: serviceTokens.sub });
      if (updated?.revokedAt) return { jti, revoked_at: updated.revokedAt.toISOString(), known: updated.sub !== null };
      const [inserted] = await tx
        .insert(serviceTokens)
        .values({ jti, expiresAt: o.untilIfUnknown, revokedAt: o.now, revokedReason: o.reason, issuedAt: o.now })
        .onConflictDoUpdate({ target: serviceTokens.jti, set: { revokedAt: sql`coalesce(${serviceTokens.revokedAt}, excluded.revoked_at)` } })
        .returning({ revokedAt: serviceTokens.revokedAt, sub: serviceTokens.sub });
      return { jti, revoked_at: inserted!.revokedAt!.toISOString(), known: inserted!.sub !== null };
    },

    /** The tenant's tokens that still work: not expired, not revoked; soonest to expire first. */
    async listLive(tenantId: string, now: Date, tx: Tx = db): Promise<ServiceToken[]> {
      const rows = await tx
        .select()
        .from(serviceTokens)
        .where(and(eq(serviceTokens.tenantId, tenantId), gt(serviceTokens.expiresAt, now), isNull(serviceTokens.revokedAt)))
        .orderBy(asc(serviceTokens.expiresAt), asc(serviceTokens.jti));
      return rows.map(toToken);
    },

    /**
     * Every revoked jti whose token could still be presented (expiry not yet past, with the clock tolerance), of
     * every tenant: read before a token says whose it is, through the one function that answers jtis only.
     */
    async revokedJtis(notExpiredBefore: Date, tx: Tx = db): Promise<string[]> {
      const result = await tx.execute<{ jti: string }>(sql`SELECT rightful_revoked_jtis AS jti FROM rightful_revoked_jtis(${notExpiredBefore.toISOString()}::timestamptz)`);
      return result.rows.map((r) => r.jti);
    },
  };
}
export type ServiceTokensRepo = ReturnType<typeof createServiceTokensRepo>;
