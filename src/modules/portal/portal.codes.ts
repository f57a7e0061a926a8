// One-time codes for the portal (Art. 32): before an erasure is filed or an export downloaded through /v1/me, a
// 6-digit code goes to the person's email identifier. A code lives 10 minutes, allows 5 attempts and works once;
// only its keyed hash is kept (table portal_codes), so a copy of the database does not let anyone try codes offline.
import { createHmac, hkdfSync, randomInt, timingSafeEqual } from 'node:crypto';
import { and, desc, eq, gt, isNotNull, isNull, lt, lte, or } from 'drizzle-orm';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import type { Keyring } from '../../lib/keyring.js';
import type { Mailer } from '../../lib/mail.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import { CodeInvalid, CodeNotSent, CodeTooSoon, CodeUnavailable, NoEmailIdentifier } from './portal.errors.js';
import { portalCodes } from './portal.table.js';

export const PORTAL_CODE_TTL_MS = 10 * 60_000;
export const PORTAL_CODE_MAX_ATTEMPTS = 5;
/** One code a minute per action, so the portal cannot be used to flood the person's inbox. */
export const PORTAL_CODE_RESEND_MS = 60_000;
export const CODE_ACTIONS = ['erasure', 'export'] as const;
export type CodeAction = (typeof CODE_ACTIONS)[number];
const CODE = /^[0-9]{6}$/;

type CodeRow = typeof portalCodes.$inferSelect;

export function createPortalCodesRepo(db: Tx) {
  const of = (tenantId: string, subjectId: string) => and(eq(portalCodes.tenantId, tenantId), eq(portalCodes.subjectId, subjectId));
  return {
    async latest(tenantId: string, subjectId: string, action: CodeAction, tx: Tx = db): Promise<CodeRow | undefined> {
      const [row] = await tx
        .select()
        .from(portalCodes)
        .where(and(of(tenantId, subjectId), eq(portalCodes.action, action)))
        .orderBy(desc(portalCodes.createdAt))
        .limit(1);
      return row;
    },
    /** The newest code of the action that may still be tried, under its row lock. */
    async lockLive(tenantId: string, subjectId: string, action: CodeAction, now: Date, tx: Tx): Promise<CodeRow | undefined> {
      const [row] = await tx
        .select()
        .from(portalCodes)
        .where(
          and(
            of(tenantId, subjectId),
            eq(portalCodes.action, action),
            isNull(portalCodes.usedAt),
            gt(portalCodes.expiresAt, now),
            lt(portalCodes.attempts, PORTAL_CODE_MAX_ATTEMPTS),
          ),
        )
        .orderBy(desc(portalCodes.createdAt))
        .limit(1)
        .for('update');
      return row;
    },
    async insert(row: typeof portalCodes.$inferInsert, tx: Tx): Promise<void> {
      await tx.insert(portalCodes).values(row);
    },
    async update(tenantId: string, id: string, patch: Partial<typeof portalCodes.$inferInsert>, tx: Tx = db): Promise<void> {
      await tx.update(portalCodes).set(patch).where(and(eq(portalCodes.tenantId, tenantId), eq(portalCodes.id, id)));
    },
    /** Every code of the person: erasure leaves none behind, used or not. */
    async deleteForSubject(tenantId: string, subjectId: string, tx: Tx): Promise<void> {
      await tx.delete(portalCodes).where(of(tenantId, subjectId));
    },
    async remove(tenantId: string, id: string, tx: Tx = db): Promise<void> {
      await tx.delete(portalCodes).where(and(eq(portalCodes.tenantId, tenantId), eq(portalCodes.id, id)));
    },
    /** The subject's codes that can no longer be used (expired, used or spent) and the earlier live ones of `action`,
     * which a new code replaces. */
    async sweep(tenantId: string, subjectId: string, action: CodeAction, now: Date, tx: Tx): Promise<void> {
      await tx
        .delete(portalCodes)
        .where(
          and(
            of(tenantId, subjectId),
            or(lte(portalCodes.expiresAt, now), isNotNull(portalCodes.usedAt), eq(portalCodes.action, action), eq(portalCodes.attempts, PORTAL_CODE_MAX_ATTEMPTS)),
          ),
        );
    },
  };
}
export type PortalCodesRepo = ReturnType<typeof createPortalCodesRepo>;

/** j•••@example.com: enough for the person to recognise the address, not enough to learn it. */
export function maskEmail(email: string): string {
  const at = email.lastIndexOf('@');
  if (at <= 0) return '•••';
  return `${email[0]}•••${email.slice(at)}`;
}

const WHAT: Record<CodeAction, string> = {
  erasure: 'to confirm your request to erase your personal data',
  export: 'to download the copy of your personal data',
};

export function createPortalCodes(deps: {
  db: Db;
  repo: PortalCodesRepo;
  keyring: Keyring;
  mailer: Mailer | null;
  subjects: Pick<SubjectsService, 'get'>;
  tenants: Pick<TenantsRepo, 'findById'>;
  clock?: () => Date;
}) {
  const { db, repo } = deps;
  const clock = deps.clock ?? (() => new Date());
  const codeKey = Buffer.from(hkdfSync('sha256', deps.keyring.current.key, Buffer.alloc(0), 'rightful portal codes v1', 32));
  const codeHash = (id: string, code: string) => createHmac('sha256', codeKey).update(`${id}:${code}`).digest();

  return {
    /** Mails a fresh code for `action`; it replaces an earlier one of the same action. */
    async issue(tenantId: string, subjectId: string, action: CodeAction): Promise<{ expires_at: string; sent_to: string }> {
      const mailer = deps.mailer;
      if (!mailer) throw new CodeUnavailable();
      const now = clock();
      const last = await repo.latest(tenantId, subjectId, action);
      if (last && last.createdAt.getTime() + PORTAL_CODE_RESEND_MS > now.getTime()) {
        throw Object.assign(new CodeTooSoon(), { retryAfterSeconds: Math.max(1, Math.ceil((last.createdAt.getTime() + PORTAL_CODE_RESEND_MS - now.getTime()) / 1000)) });
      }
      const subject = await deps.subjects.get(tenantId, subjectId);
      const email = subject.identifiers?.find((i) => i.type === 'email')?.value;
      if (!email) throw new NoEmailIdentifier();
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const id = crypto.randomUUID();
      const expiresAt = new Date(now.getTime() + PORTAL_CODE_TTL_MS);
      await inTransaction(db, async (tx) => {
        await repo.sweep(tenantId, subjectId, action, now, tx);
        await repo.insert({ id, tenantId, subjectId, action, codeHash: codeHash(id, code), expiresAt, createdAt: now }, tx);
      });
      const controller = (await deps.tenants.findById(tenantId))?.name ?? 'the controller';
      try {
        await mailer.send({
          to: email,
          subject: `Your code for ${controller}`,
          text: `Your one-time code ${WHAT[action]} at ${controller} is:\n\n    ${code}\n\nIt is valid for 10 minutes and works once. If you did not ask for it, ignore this email.\n`,
        });
      } catch {
        // The stored code is useless without the mail; a retry within the minute must not be refused for it.
        await repo.remove(tenantId, id);
        throw new CodeNotSent();
      }
      return { expires_at: expiresAt.toISOString(), sent_to: maskEmail(email) };
    },

    /**
     * Checks the code and, when it is right, spends it and runs `then` in the same transaction (a failure of `then`
     * leaves the code unspent). A wrong code counts an attempt; the fifth spends the code.
     */
    async consume<T>(tenantId: string, subjectId: string, action: CodeAction, code: string, then: (tx: Tx) => Promise<T>): Promise<T> {
      const now = clock();
      const verdict = await inTransaction(db, async (tx) => {
        const row = await repo.lockLive(tenantId, subjectId, action, now, tx);
        if (row && CODE.test(code) && timingSafeEqual(row.codeHash, codeHash(row.id, code))) {
          await repo.update(tenantId, row.id, { usedAt: now }, tx);
          return { ok: true as const, value: await then(tx) };
        }
        if (!row) return { ok: false as const, left: null };
        const attempts = row.attempts + 1;
        await repo.update(tenantId, row.id, { attempts }, tx);
        return { ok: false as const, left: PORTAL_CODE_MAX_ATTEMPTS - attempts };
      });
      if (verdict.ok) return verdict.value;
      if (verdict.left === null || verdict.left === 0) {
        throw new CodeInvalid('No valid code: ask for a new one (a code is valid for 10 minutes, allows 5 attempts and works once)');
      }
      throw new CodeInvalid(`The code is not right; ${verdict.left} attempt${verdict.left === 1 ? '' : 's'} left`);
    },
  };
}
export type PortalCodes = ReturnType<typeof createPortalCodes>;
