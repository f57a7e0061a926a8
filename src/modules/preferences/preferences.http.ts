// The preference page's HTTP surface: its cookies, the security headers every answer carries, the same-origin check
// on form posts, and the tenant colour made safe to draw with (a validated value, contrast-checked against white).
import { randomBytes } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { servedOrigin } from '../../plugins/swagger.js';

export const PAGE_PATH = '/preferences';
export const COOKIES = { token: 'rf_pref', lang: 'rf_lang', flash: 'rf_flash', codes: 'rf_codes' } as const;
/** The language choice outlives a link: a new link opens in the language chosen before. */
const LANG_COOKIE_SECONDS = 365 * 24 * 3600;
/** A one-time code lives 10 minutes; the page offers the code form for as long. */
export const CODE_FORM_SECONDS = 600;

/** The cookies a request carries (the first of a repeated name wins; malformed pairs are skipped). */
export function readCookies(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  const header = request.headers.cookie;
  if (typeof header !== 'string' || header.length > 8192) return out;
  for (const pair of header.split(';')) {
    const at = pair.indexOf('=');
    if (at < 0) continue;
    const name = pair.slice(0, at).trim();
    if (!name || name in out) continue;
    try {
      out[name] = decodeURIComponent(pair.slice(at + 1).trim());
    } catch {
      // Not percent-encoded as we write it: not ours.
    }
  }
  return out;
}

/** A Set-Cookie value for the page: HttpOnly, Path=/preferences, SameSite=Lax (Strict would drop the cookie on the
 * redirect after a click from an email, a cross-site navigation), Secure when the page is served over https. */
export function cookie(request: FastifyRequest, name: string, value: string, maxAgeSeconds: number): string {
  const secure = request.protocol === 'https' ? '; Secure' : '';
  return `${name}=${encodeURIComponent(value)}; Max-Age=${Math.max(0, Math.floor(maxAgeSeconds))}; Path=${PAGE_PATH}; HttpOnly; SameSite=Lax${secure}`;
}
export const clearCookie = (request: FastifyRequest, name: string) => cookie(request, name, '', 0);
export const langCookie = (request: FastifyRequest, lang: string) => cookie(request, COOKIES.lang, lang, LANG_COOKIE_SECONDS);

/** Adds Set-Cookie values to those already on the reply. */
export function addCookies(reply: FastifyReply, values: string[]): void {
  if (values.length === 0) return;
  const prior = reply.getHeader('set-cookie');
  const list = prior === undefined ? [] : Array.isArray(prior) ? prior.map(String) : [String(prior)];
  reply.header('set-cookie', [...list, ...values]);
}

/** A fresh nonce for the one <style> block (the tenant colour); everything else comes from /preferences/style.css. */
export const newNonce = () => randomBytes(16).toString('base64');

/** What every answer of the page carries. Nothing is cached (the page shows personal data), nothing leaks through
 * the Referer, nothing frames it, and only our own script and style run. */
export function securityHeaders(reply: FastifyReply, nonce?: string): FastifyReply {
  const style = nonce ? `'self' 'nonce-${nonce}'` : `'self'`;
  return reply
    .header(
      'content-security-policy',
      `default-src 'none'; script-src 'self'; style-src ${style}; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'`,
    )
    .header('referrer-policy', 'no-referrer')
    .header('x-content-type-options', 'nosniff')
    .header('cache-control', 'no-store');
}

/** Whether a form post comes from this site. Sec-Fetch-Site, where the browser sends it, decides; otherwise an
 * Origin naming another origin is refused. Origin "null" is allowed: the page's Referrer-Policy no-referrer makes
 * browsers send exactly that on its own form posts. The CSRF token is checked as well, whatever this says. */
export function sameOrigin(request: FastifyRequest): boolean {
  const site = request.headers['sec-fetch-site'];
  if (typeof site === 'string') return site === 'same-origin';
  const origin = request.headers.origin;
  if (origin === undefined || origin === 'null') return true;
  return typeof origin === 'string' && origin.toLowerCase() === servedOrigin(request);
}

/** The claims the page needs from a subject token it has not verified itself: the jti binds the CSRF token, exp
 * sizes the cookie and tells an expired link from a forged one. Verification is the subject API's job, on every call. */
export function peekClaims(token: string): { jti: string; exp: number } | null {
  const parts = token.split('.');
  if (parts.length !== 3) return null;
  try {
    const claims = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { jti?: unknown; exp?: unknown };
    if (typeof claims.jti !== 'string' || claims.jti.length === 0 || claims.jti.length > 200 || typeof claims.exp !== 'number') return null;
    return { jti: claims.jti, exp: claims.exp };
  } catch {
    return null;
  }
}

/** A dark, accessible blue: white text on it has a contrast of 8.3:1. */
export const DEFAULT_BRAND = '#1f4e8c';

function luminance(hex: string): number {
  const channel = (i: number) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255;
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
  };
  return 0.2126 * channel(1) + 0.7152 * channel(3) + 0.0722 * channel(5);
}

/** Contrast ratio of white on a colour (WCAG 2.2). */
export const contrastWithWhite = (hex: string) => 1.05 / (luminance(hex) + 0.05);

/** The tenant's colour as the page draws it: only `#rrggbb` ever reaches the style block, and a colour too light
 * for white text (below 4.5:1, WCAG 2.2 AA 1.4.3) is darkened step by step until it is not. */
export function brandColor(value: string | null | undefined): string {
  if (typeof value !== 'string' || !/^#[0-9a-fA-F]{6}$/.test(value)) return DEFAULT_BRAND;
  let hex = value.toLowerCase();
  for (let i = 0; i < 40 && contrastWithWhite(hex) < 4.5; i++) {
    hex = `#${[1, 3, 5].map((at) => Math.floor(parseInt(hex.slice(at, at + 2), 16) * 0.9).toString(16).padStart(2, '0')).join('')}`;
  }
  return hex;
}
