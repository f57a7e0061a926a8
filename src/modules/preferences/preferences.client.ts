// The page's only way to the data: the subject API (/v1/me) over HTTP, called in-process with the person's subject
// token, their language and their browser's user agent, exactly as a CRM's own preference page would call it.
import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';

export type MePurpose = {
  key: string;
  version: number;
  title: string;
  description: string;
  legal_basis: string;
  direct_marketing: boolean;
  automated_decisions: boolean;
  data_categories: string[];
  retention: string | null;
  consent: 'granted' | 'withdrawn' | 'none';
  can_grant: boolean;
  can_withdraw: boolean;
  objected: boolean;
  can_object: boolean;
};
export type MeRequest = { id: string; type: string; status: string; received_at: string; due_date: string | null; due_at: string | null; extended?: boolean };
export type MeExport = { request_id: string; type: 'access' | 'portability'; status: 'ready' | 'deleted'; approved_at: string | null };
export type Me = {
  controller: { name: string; brand_color: string | null; default_locale: string };
  locale: string;
  subject: { id: string; restricted: boolean; marketing_objection: boolean; automated_decision_objection: boolean };
  purposes: MePurpose[];
  requests: MeRequest[];
  exports: MeExport[];
};

/** Who is calling: the subject token, and what the person's browser said about them. */
export type Caller = { token: string; language: string | undefined; userAgent: string | undefined; ip: string };

export type Answer = { status: number; body: Record<string, unknown> | null; headers: Record<string, unknown> };

export type MeClient = {
  me(caller: Caller): Promise<{ status: 200; me: Me } | { status: number; me: null }>;
  post(caller: Caller, path: string, body: Record<string, unknown>): Promise<Answer>;
  /** The export's ZIP as a stream (the subject API streams it; so does the page), or the refusal. */
  download(caller: Caller, requestId: string, code: string): Promise<{ status: 200; stream: Readable; headers: Record<string, unknown> } | Answer>;
};

export function createMeClient(app: FastifyInstance): MeClient {
  const headers = (c: Caller) => ({
    authorization: `Bearer ${c.token}`,
    ...(c.language ? { 'accept-language': c.language } : {}),
    ...(c.userAgent ? { 'user-agent': c.userAgent } : {}),
  });
  const parse = (text: string): Record<string, unknown> | null => {
    try {
      const v: unknown = JSON.parse(text);
      return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  };
  return {
    async me(c) {
      // remoteAddress: the subject API's per-address limits see the person, not this process.
      const res = await app.inject({ method: 'GET', url: '/v1/me', headers: headers(c), remoteAddress: c.ip });
      return res.statusCode === 200 ? { status: 200, me: res.json() as Me } : { status: res.statusCode, me: null };
    },
    async post(c, path, body) {
      const res = await app.inject({ method: 'POST', url: path, headers: { ...headers(c), 'content-type': 'application/json' }, payload: JSON.stringify(body), remoteAddress: c.ip });
      return { status: res.statusCode, body: parse(res.body), headers: res.headers };
    },
    async download(c, requestId, code) {
      const res = await app.inject({
        method: 'POST',
        url: `/v1/me/exports/${encodeURIComponent(requestId)}/download`,
        headers: { ...headers(c), 'content-type': 'application/json' },
        payload: JSON.stringify({ code }),
        remoteAddress: c.ip,
        payloadAsStream: true,
      });
      const stream = res.stream();
      if (res.statusCode === 200) return { status: 200, stream, headers: res.headers };
      let text = '';
      for await (const chunk of stream) text += String(chunk);
      return { status: res.statusCode, body: parse(text), headers: res.headers };
    },
  };
}
