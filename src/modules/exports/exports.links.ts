// Download links for the person (Art. 15(3), 20): a bearer token (only its SHA-256 stored) with a lifetime and a
// download budget, which releases the package only against a one-time code mailed to the person's email identifier
// (Art. 32: a forwarded or intercepted link alone does not hand out someone's whole file). Every copy issued and
// every download is a line in the request's audit trail.
import { createHash, createHmac, hkdfSync, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { Readable } from 'node:stream';
import { and, desc, eq, sql } from 'drizzle-orm';
import { inTransaction, type Db, type Tx } from '../../db/client.js';
import { inTenant } from '../../db/tenant-scope.js';
import { open, seal } from '../../lib/crypto.js';
import { ValidationFailed } from '../../lib/errors.js';
import type { Keyring } from '../../lib/keyring.js';
import { createMailer } from '../../lib/mail.js';
import { RequestNotFound } from '../rights-requests/rights-requests.errors.js';
import type { RequestRow, RightsRequestsRepo } from '../rights-requests/rights-requests.repo.js';
import type { SubjectsService } from '../subjects/subjects.service.js';
import type { TenantsRepo } from '../tenants/tenants.repo.js';
import {
  ExportCodeInvalid,
  ExportCodeNotSent,
  ExportCodeTooSoon,
  ExportCodeUnavailable,
  ExportLinkGone,
  ExportLinkNotFound,
} from './exports.links.errors.js';
import { ExportDataDeleted, ExportNotApproved } from './exports.errors.js';
import type { ExportsRepo, PackageRow } from './exports.repo.js';
import { exportLinks } from './exports.table.js';

export type LinkRow = typeof exportLinks.$inferSelect;

/** The package as the exports service opens it: a ZIP stream, its file name, and which right it answers. */
export type OpenedPackage = { stream: Readable; filename: string; kind: 'access' | 'portability' };
export type OpenPackage = (tenantId: string, requestId: string, opts: { by: string; via: 'link' | 'transmit' }) => Promise<OpenedPackage>;
/** Sends one plain-text email; null when no SMTP transport is configured. */
export type CodeMailer = { send(to: string, subject: string, text: string): Promise<void> } | null;

/** The headers of a package handed to the person: a ZIP to save (its name reduced to safe characters), never
 * cached, never sniffed. The link download, /v1/me and the preference page send it alike. */
export function packageHeaders(filename: string): Record<string, string> {
  return {
    'content-type': 'application/zip',
    'content-disposition': `attachment; filename="${filename.replace(/[^A-Za-z0-9._-]/g, '_')}"`,
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  };
}

export const CODE_TTL_MS = 10 * 60_000;
export const CODE_MAX_ATTEMPTS = 5;
/** A new code is mailed at most once a minute per link, so the link cannot be used to flood the person's inbox. */
export const CODE_RESEND_MS = 60_000;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;
const CODE = /^[0-9]{6}$/;

export type LinkState = 'active' | 'expired' | 'exhausted' | 'revoked' | 'locked';
export type LinkView = {
  id: string;
  status: LinkState;
  expires_at: string;
  max_downloads: number;
  downloads: number;
  revoked_at: string | null;
  created_by: string;
  created_at: string;
};
export type IssuedLink = { id: string; url: string; expires_at: string; max_downloads: number };

export function linkState(l: LinkRow, now: Date): LinkState {
  if (l.revokedAt) return 'revoked';
  if (l.codeAttempts >= CODE_MAX_ATTEMPTS) return 'locked';
  if (l.downloads >= l.maxDownloads) return 'exhausted';
  if (l.expiresAt.getTime() <= now.getTime()) return 'expired';
  return 'active';
}

const GONE_TEXT: Record<Exclude<LinkState, 'active'> | 'deleted', string> = {
  expired: 'This download link has expired; ask the controller for a new one',
  exhausted: 'This download link has been used as many times as it allows; ask the controller for a new one',
  revoked: 'This download link was withdrawn by the controller',
  locked: 'This download link is locked after too many wrong codes; ask the controller for a new one',
  deleted: 'The data behind this download link has been deleted',
};

const sha256 = (s: string) => createHash('sha256').update(s).digest();

export function createExportLinksRepo(db: Tx) {
  return {
    async insert(row: typeof exportLinks.$inferInsert, tx: Tx): Promise<LinkRow> {
      const [created] = await tx.insert(exportLinks).values(row).returning();
      return created!;
    },
    async list(tenantId: string, requestId: string, tx: Tx = db): Promise<LinkRow[]> {
      return tx
        .select()
        .from(exportLinks)
        .where(and(eq(exportLinks.tenantId, tenantId), eq(exportLinks.requestId, requestId)))
        .orderBy(desc(exportLinks.createdAt), desc(exportLinks.id));
    },
    async find(tenantId: string, requestId: string, id: string, tx: Tx = db): Promise<LinkRow | undefined> {
      const [row] = await tx
        .select()
        .from(exportLinks)
        .where(and(eq(exportLinks.tenantId, tenantId), eq(exportLinks.requestId, requestId), eq(exportLinks.id, id)))
        .limit(1);
      return row;
    },
    /**
     * The link a token names: the token is the credential and names its tenant, found through the one function that
     * answers it across tenants; the request's scope is then bound to that tenant and the row read in it.
     */
    async byTokenHash(hash: Buffer): Promise<LinkRow | undefined> {
      const result = await db.execute<{ tenant_id: string | null }>(sql`SELECT rightful_export_link_tenant(${hash}) AS tenant_id`);
      const tenantId = result.rows[0]?.tenant_id;
      if (!tenantId) return undefined;
      return inTenant(tenantId, async () => {
        const [row] = await db.select().from(exportLinks).where(and(eq(exportLinks.tenantId, tenantId), eq(exportLinks.tokenHash, hash))).limit(1);
        return row;
      });
    },
    async lock(tenantId: string, id: string, tx: Tx): Promise<LinkRow | undefined> {
      const [row] = await tx
        .select()
        .from(exportLinks)
        .where(and(eq(exportLinks.tenantId, tenantId), eq(exportLinks.id, id)))
        .for('update')
        .limit(1);
      return row;
    },
    async update(tenantId: string, id: string, patch: Partial<typeof exportLinks.$inferInsert>, tx: Tx): Promise<LinkRow> {
      const [row] = await tx
        .update(exportLinks)
        .set(patch)
        .where(and(eq(exportLinks.tenantId, tenantId), eq(exportLinks.id, id)))
        .returning();
      return row!;
    },
    /** Gives back a download counted for a package that could not be opened. */
    async uncountDownload(tenantId: string, id: string, tx: Tx): Promise<void> {
      await tx
        .update(exportLinks)
        .set({ downloads: sql`greatest(${exportLinks.downloads} - 1, 0)` })
        .where(and(eq(exportLinks.tenantId, tenantId), eq(exportLinks.id, id)));
    },
  };
}
export type ExportLinksRepo = ReturnType<typeof createExportLinksRepo>;

export function createExportLinksService(deps: {
  db: Db;
  repo: ExportLinksRepo;
  /** The exports the links hand out (their approval, copies and deletion). */
  packages: Pick<ExportsRepo, 'find' | 'lock'>;
  requests: RightsRequestsRepo;
  tenants: TenantsRepo;
  subjects: SubjectsService;
  keyring: Keyring;
  mailer: CodeMailer;
  openPackage: OpenPackage;
  publicBaseUrl: string;
  clock?: () => Date;
}) {
  const { db, repo, requests, keyring } = deps;
  const clock = deps.clock ?? (() => new Date());
  // Codes are kept as an HMAC under a key derived from the master key: a copy of the database alone does not let
  // anyone try the million codes offline.
  const codeKey = Buffer.from(hkdfSync('sha256', keyring.current.key, Buffer.alloc(0), 'rightful export link codes v1', 32));
  const codeHash = (linkId: string, code: string) => createHmac('sha256', codeKey).update(`${linkId}:${code}`).digest();
  const tokenAad = (linkId: string) => `export-link-token:${linkId}`;

  const view = (l: LinkRow, now: Date): LinkView => ({
    id: l.id,
    status: linkState(l, now),
    expires_at: l.expiresAt.toISOString(),
    max_downloads: l.maxDownloads,
    downloads: l.downloads,
    revoked_at: l.revokedAt?.toISOString() ?? null,
    created_by: l.createdBy,
    created_at: l.createdAt.toISOString(),
  });
  const urlOf = (token: string) => `${deps.publicBaseUrl}/v1/exports/${token}`;

  async function audit(r: Pick<RequestRow, 'tenantId' | 'id'>, action: string, actor: string, at: Date, facts: Record<string, unknown>, tx: Tx): Promise<void> {
    await requests.appendNote(r, { action, actor, at, facts }, tx);
  }

  /** The request, locked, so audit lines of concurrent calls take distinct sequence numbers. */
  async function lockRequest(tenantId: string, requestId: string, tx: Tx): Promise<RequestRow> {
    const r = await requests.lock(tenantId, requestId, tx);
    if (!r) throw new RequestNotFound();
    return r;
  }

  /** The link a token names, whatever its state; 404 for a token that names none (or is not shaped like one). */
  async function byToken(token: string): Promise<LinkRow> {
    if (!TOKEN.test(token)) throw new ExportLinkNotFound();
    const link = await repo.byTokenHash(sha256(token));
    if (!link) throw new ExportLinkNotFound();
    return link;
  }

  /** A link that may still release the package; otherwise the 410 that says why. */
  async function usable(link: LinkRow, now: Date, tx: Tx = db): Promise<PackageRow> {
    const state = linkState(link, now);
    if (state !== 'active') throw new ExportLinkGone(GONE_TEXT[state]);
    const pkg = await deps.packages.find(link.tenantId, link.requestId, tx);
    if (!pkg || pkg.dataDeletedAt) throw new ExportLinkGone(GONE_TEXT.deleted);
    return pkg;
  }

  return {
    urlOf,

    /**
     * Issues a copy (Art. 15(3)): the first is free; a further one may carry the fee the controller charges for it,
     * recorded in the audit trail. Refused before the DPO approved the package (Art. 15(4)), and once its data is
     * deleted. `tx`: the Idempotency-Key transaction.
     */
    async create(
      by: { tenantId: string; clientId: string },
      requestId: string,
      input: { ttl_hours?: number; max_downloads?: number; fee?: { amount: string; currency: string } },
      tx: Tx = db,
    ): Promise<IssuedLink & { token: string }> {
      return inTransaction(tx, async (tx) => {
        const r = await lockRequest(by.tenantId, requestId, tx);
        const pkg = await deps.packages.lock(by.tenantId, requestId, tx);
        if (!pkg || pkg.status !== 'approved') throw new ExportNotApproved('The export is not approved yet: the DPO reviews it before any copy is issued (Art. 15(4))');
        if (pkg.dataDeletedAt) throw new ExportDataDeleted();
        const earlier = await repo.list(by.tenantId, requestId, tx);
        // The first copy is the first link issued, unless a copy was already handed out another way (a service-token
        // download); any later one is a further copy.
        if (input.fee && earlier.length === 0 && pkg.copies === 0) {
          throw new ValidationFailed([{ field: 'fee', message: 'the first copy is free of charge (Art. 15(3)); a fee may be recorded for a further copy only' }]);
        }
        const tenant = await deps.tenants.findById(by.tenantId, tx);
        const now = clock();
        const ttlHours = input.ttl_hours ?? tenant!.exportLinkTtlHours;
        const maxDownloads = input.max_downloads ?? tenant!.exportLinkMaxDownloads;
        const token = randomBytes(32).toString('base64url');
        const link = await repo.insert(
          {
            id: crypto.randomUUID(),
            tenantId: by.tenantId,
            requestId,
            tokenHash: sha256(token),
            expiresAt: new Date(now.getTime() + ttlHours * 3_600_000),
            maxDownloads,
            createdBy: by.clientId,
            createdAt: now,
          },
          tx,
        );
        await audit(r, 'export.link_created', by.clientId, now, {
          link_id: link.id,
          link: earlier.length + 1,
          expires_at: link.expiresAt.toISOString(),
          max_downloads: maxDownloads,
          ...(input.fee ? { fee: input.fee } : {}),
        }, tx);
        return { id: link.id, url: urlOf(token), expires_at: link.expiresAt.toISOString(), max_downloads: maxDownloads, token };
      });
    },

    /** What an Idempotency-Key keeps of a created link: the token sealed under the master key, never in plaintext. */
    createdReplay: {
      store(body: IssuedLink & { token: string }): object {
        return { id: body.id, expires_at: body.expires_at, max_downloads: body.max_downloads, token_sealed: seal(keyring.current.key, Buffer.from(body.token), tokenAad(body.id)).toString('base64'), key_id: keyring.current.id };
      },
      async replay(stored: unknown): Promise<IssuedLink & { token: string }> {
        const s = stored as { id: string; expires_at: string; max_downloads: number; token_sealed: string; key_id: string };
        const master = keyring.all.get(s.key_id);
        if (!master) throw new Error(`master key ${s.key_id} is not configured`);
        const token = open(master, Buffer.from(s.token_sealed, 'base64'), tokenAad(s.id)).toString('utf8');
        return { id: s.id, url: urlOf(token), expires_at: s.expires_at, max_downloads: s.max_downloads, token };
      },
    },

    async list(tenantId: string, requestId: string): Promise<{ items: LinkView[] }> {
      if (!(await requests.find(tenantId, requestId))) throw new RequestNotFound();
      const now = clock();
      return { items: (await repo.list(tenantId, requestId)).map((l) => view(l, now)) };
    },

    /** Withdraws a link at once; revoking a revoked link changes nothing. */
    async revoke(by: { tenantId: string; clientId: string }, requestId: string, linkId: string): Promise<void> {
      await inTransaction(db, async (tx) => {
        const r = await lockRequest(by.tenantId, requestId, tx);
        const link = await repo.find(by.tenantId, requestId, linkId, tx);
        if (!link) throw new ExportLinkNotFound();
        if (link.revokedAt) return;
        const now = clock();
        await repo.update(by.tenantId, link.id, { revokedAt: now }, tx);
        await audit(r, 'export.link_revoked', by.clientId, now, { link_id: link.id }, tx);
      });
    },

    /** What the person's page shows: the controller, until when and how many downloads are left. */
    async page(token: string): Promise<{ controller: string; expiresAt: Date; downloadsLeft: number; codeSentUntil: Date | null }> {
      const link = await byToken(token);
      const now = clock();
      await usable(link, now);
      const tenant = await deps.tenants.findById(link.tenantId);
      return {
        controller: tenant!.name,
        expiresAt: link.expiresAt,
        downloadsLeft: link.maxDownloads - link.downloads,
        codeSentUntil: link.codeExpiresAt && link.codeHash && link.codeExpiresAt > now ? link.codeExpiresAt : null,
      };
    },

    /**
     * Mails a fresh one-time code (6 digits, 10 minutes) to the person's email identifier; it replaces any earlier
     * code, and wrong attempts keep counting across codes. Without SMTP or without an email identifier the link cannot
     * release the package: the CRM fetches it with a service token instead.
     */
    async sendCode(token: string): Promise<{ expiresAt: Date; controller: string }> {
      const found = await byToken(token);
      if (!deps.mailer) {
        throw new ExportCodeUnavailable('No email transport is configured (SMTP_URL), so no one-time code can be sent: the CRM must fetch the package with a service token and hand it over itself');
      }
      const now = clock();
      const code = String(randomInt(0, 1_000_000)).padStart(6, '0');
      const expiresAt = new Date(now.getTime() + CODE_TTL_MS);
      const { email, controller } = await inTransaction(db, async (tx) => {
        const link = (await repo.lock(found.tenantId, found.id, tx))!;
        await usable(link, now, tx);
        if (link.codeExpiresAt && link.codeExpiresAt.getTime() - CODE_TTL_MS + CODE_RESEND_MS > now.getTime()) throw new ExportCodeTooSoon();
        const r = await requests.find(link.tenantId, link.requestId, tx);
        const subject = await deps.subjects.get(link.tenantId, r!.subjectId, tx);
        const email = subject.identifiers?.find((i) => i.type === 'email')?.value;
        if (!email) {
          throw new ExportCodeUnavailable('The person has no email identifier to send a one-time code to: the CRM must fetch the package with a service token and hand it over itself');
        }
        await repo.update(link.tenantId, link.id, { codeHash: codeHash(link.id, code), codeExpiresAt: expiresAt }, tx);
        const tenant = await deps.tenants.findById(link.tenantId, tx);
        return { email, controller: tenant!.name };
      });
      try {
        await deps.mailer.send(
          email,
          `Your code to download your data from ${controller}`,
          `Your one-time code to download the copy of your data from ${controller} is:\n\n    ${code}\n\nIt is valid for 10 minutes. If you did not ask for it, ignore this email.\n`,
        );
      } catch {
        // The stored code is useless without the mail; a retry within the minute must not be refused for it.
        await repo.update(found.tenantId, found.id, { codeHash: null, codeExpiresAt: null }, db);
        throw new ExportCodeNotSent();
      }
      return { expiresAt, controller };
    },

    /**
     * Checks the code (used up when right; counted when wrong, and the fifth wrong one locks the link), opens the
     * package, counts the download and records it with its time in the request's audit trail.
     */
    async download(token: string, code: string): Promise<OpenedPackage> {
      const found = await byToken(token);
      const now = clock();
      const verdict = await inTransaction(db, async (tx) => {
        const link = (await repo.lock(found.tenantId, found.id, tx))!;
        await usable(link, now, tx);
        const live = link.codeHash && link.codeExpiresAt && link.codeExpiresAt > now;
        const right = live && CODE.test(code) && timingSafeEqual(link.codeHash!, codeHash(link.id, code));
        if (right) {
          // The code is used up and the download counted under the link's lock: two posts of one code get one file.
          await repo.update(link.tenantId, link.id, { codeHash: null, codeExpiresAt: null, downloads: link.downloads + 1 }, tx);
          return { ok: true as const, link };
        }
        const attempts = link.codeAttempts + 1;
        await repo.update(link.tenantId, link.id, { codeAttempts: attempts }, tx);
        if (attempts >= CODE_MAX_ATTEMPTS) {
          const r = await lockRequest(link.tenantId, link.requestId, tx);
          await audit(r, 'export.link_locked', 'rightful', now, { link_id: link.id, attempts }, tx);
        }
        return { ok: false as const, attempts, live };
      });
      if (!verdict.ok) {
        if (verdict.attempts >= CODE_MAX_ATTEMPTS) throw new ExportLinkGone(GONE_TEXT.locked);
        const left = CODE_MAX_ATTEMPTS - verdict.attempts;
        throw new ExportCodeInvalid(
          `${verdict.live ? 'The code is not right' : 'No valid code: ask for a new one (a code is valid for 10 minutes and works once)'}; ${left} attempt${left === 1 ? '' : 's'} left before the link locks`,
        );
      }
      const { link } = verdict;
      try {
        // openPackage records the copy, with its time and this link as the one who asked, in the audit trail.
        return await deps.openPackage(link.tenantId, link.requestId, { by: `download link ${link.id}`, via: 'link' });
      } catch (err) {
        await repo.uncountDownload(link.tenantId, link.id, db);
        if ((err as { statusCode?: number }).statusCode === 410) throw new ExportLinkGone(GONE_TEXT.deleted);
        throw err;
      }
    },
  };
}
export type ExportLinksService = ReturnType<typeof createExportLinksService>;

/** The code mailer over the configured SMTP transport (SMTP_URL); null without one. Errors carry no address. */
export function createCodeMailer(smtp: { url: string; from: string } | null): CodeMailer {
  const mailer = createMailer(smtp);
  return mailer && { send: (to, subject, text) => mailer.send({ to, subject, text }) };
}
