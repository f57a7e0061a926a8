// index.html of an access package: the Art. 15(1)-(2) information beside the copy, readable without any tool.
// Self-contained (inline CSS, no script, nothing loaded from elsewhere) and every value escaped: system names,
// purpose texts and records come from the tenant and its systems, and the page is opened on the person's device.
import type { PrivacyNotice } from '../privacy-notice/privacy-notice.schemas.js';
import { NOTICE_TEXTS, type NoticeTexts } from '../privacy-notice/privacy-notice.texts.js';
import type { PackageInput } from './exports.package.js';
import { PACKAGE_TEXTS, packageLocale, type PackageTexts } from './exports.texts.js';

/** Markup already escaped; anything else interpolated into `html` is escaped. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value;
  }
}

type HtmlValue = SafeHtml | string | number | null | undefined | false | readonly HtmlValue[];

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: HtmlValue): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof SafeHtml) return value.value;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** A template that escapes every interpolation unless it is itself `html` (or an array of it). */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new SafeHtml(out);
}

/** What the package holds, for its summary: counts per part and category, and every file in order. */
export type PackageSummary = {
  rightful: { category: string; records: number; file: string }[];
  systems: { name: string; categories: { category: string; records: number; file: string }[] }[];
  files: string[];
  withheld: boolean;
};

type Notice = PrivacyNotice;
type Purpose = Notice['purposes'][number];

const STYLE = `
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;line-height:1.5;color:#1b1b1b;background:#fff;max-width:60rem;margin:2rem auto;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.25rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ccc;padding-bottom:.2rem}
h3{font-size:1rem;margin:1rem 0 .25rem}p.meta{color:#555;margin-top:0}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #ccc;padding:.3rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f3f3}td.n{text-align:right;font-variant-numeric:tabular-nums}code{font-size:.9em}
section.object{border:2px solid #1b1b1b;padding:0 1rem 1rem;margin-top:2rem}
`;

function contact(c: Notice['controller_contact'], P: PackageTexts): SafeHtml {
  if (!c) return html``;
  return html`<ul>
${c.name ? html`<li>${c.name}</li>` : ''}${c.address ? html`<li>${P.contact.address}: ${c.address}</li>` : ''}${c.email ? html`<li>${P.contact.email}: ${c.email}</li>` : ''}${c.phone ? html`<li>${P.contact.phone}: ${c.phone}</li>` : ''}
</ul>`;
}

/** A list of "purpose: value" lines, or `none` when no purpose has a value. */
function perPurpose(purposes: Purpose[], value: (p: Purpose) => HtmlValue, none: string): SafeHtml {
  const rows = purposes.map((p) => ({ p, v: value(p) })).filter((r) => r.v !== null && r.v !== undefined && r.v !== false && r.v !== '');
  if (rows.length === 0) return html`<p>${none}</p>`;
  return html`<ul>${rows.map((r) => html`<li><strong>${r.p.title}</strong>: ${r.v}</li>`)}</ul>`;
}

function link(url: string): SafeHtml {
  // Only web addresses become links: the setting is validated as https, and nothing else may reach an href.
  return /^https:\/\//i.test(url) ? html`<a href="${url}">${url}</a>` : html`${url}`;
}

function countsTable(summary: PackageSummary, P: PackageTexts): SafeHtml {
  const parts = [{ name: P.ourRecords, categories: summary.rightful }, ...summary.systems];
  return html`<table>
<thead><tr><th>${P.columns.source}</th><th>${P.columns.category}</th><th>${P.columns.records}</th><th>${P.columns.file}</th></tr></thead>
<tbody>
${parts.flatMap((part) =>
  part.categories.map(
    (c) => html`<tr><td>${part.name}</td><td>${c.category}</td><td class="n">${c.records}</td><td><code>${c.file}</code></td></tr>
`,
  ),
)}</tbody>
</table>`;
}

function filesTable(files: string[], P: PackageTexts): SafeHtml {
  const describe = (f: string) =>
    f === 'data.json' ? P.files.data : f === 'data.schema.json' ? P.files.schema : f === 'index.html' ? P.files.index : f === 'manifest.json' ? P.files.manifest : null;
  const named = files.filter((f) => describe(f) !== null);
  const csvCount = files.filter((f) => f.startsWith('csv/')).length;
  return html`<table>
<thead><tr><th>${P.columns.file}</th><th>${P.columns.content}</th></tr></thead>
<tbody>
${named.map((f) => html`<tr><td><code>${f}</code></td><td>${describe(f)}</td></tr>
`)}${csvCount > 0 ? html`<tr><td><code>csv/</code> (${csvCount})</td><td>${P.files.csv}</td></tr>
` : ''}</tbody>
</table>`;
}

/** The page, in the package's locale (en, bg, de; else en). */
export function renderIndex(input: Pick<PackageInput, 'locale' | 'generatedAt' | 'requestId' | 'notice' | 'recipients'>, summary: PackageSummary): string {
  const locale = packageLocale(input.locale);
  const P = PACKAGE_TEXTS[locale]!;
  const T: NoticeTexts = NOTICE_TEXTS[locale]!;
  const H = T.headings;
  const notice = input.notice;
  const purposes = notice?.purposes ?? [];
  const rights = notice?.rights ?? [];
  const rightText = (right: 'rectification' | 'erasure' | 'restriction' | 'complaint') =>
    rights.find((r) => r.right === right) ?? { title: T.rights[right].title, text: T.rights[right].text };
  const authority = notice?.supervisory_authority ?? null;
  const categoriesInPackage = [...new Set([...summary.rightful, ...summary.systems.flatMap((s) => s.categories)].map((c) => c.category))];
  const objectable = purposes.filter((p) => notice?.right_to_object.purposes.includes(p.key));

  const body = html`<h1>${P.title}</h1>
<p class="meta">${P.generatedAt}: ${input.generatedAt.toISOString()} · ${P.request}: <code>${input.requestId}</code></p>
<p>${P.intro}</p>

${notice
  ? html`<h2>${H.controller}</h2>
<p>${notice.controller}</p>
${contact(notice.controller_contact, P)}${notice.dpo_contact ? html`<h3>${H.dpo}</h3>
${contact(notice.dpo_contact, P)}` : ''}`
  : ''}
<h2>${H.purposes}</h2>
${purposes.length === 0
  ? html`<p>${P.notStated}</p>`
  : purposes.map(
      (p) => html`<h3>${p.title}</h3>
<p>${p.description}</p>
<p><strong>${H.legal_basis}</strong>: ${p.legal_basis_text}</p>
${p.legitimate_interests ? html`<p><strong>${H.legitimate_interests}</strong>: ${p.legitimate_interests}</p>
` : ''}`,
    )}
<h2>${H.data_categories}</h2>
<p>${P.byPurpose}</p>
${perPurpose(purposes, (p) => (p.data_categories.length ? p.data_categories.join(', ') : null), P.notStated)}
<p>${P.inPackage} ${categoriesInPackage.length ? categoriesInPackage.join(', ') : P.notStated}</p>

<h2>${H.recipients}</h2>
<p>${P.recipientsNamed}</p>
${input.recipients.length === 0
  ? html`<p>${P.noRecipients}</p>`
  : html`<ul>${input.recipients.map(
      (r) => html`<li><strong>${r.name}</strong> (${r.kind}${r.processor ? html`; ${P.processor}` : ''})${r.data_categories.length ? html`: ${r.data_categories.join(', ')}` : ''}</li>`,
    )}</ul>`}
<p>${P.recipientsByPurpose}</p>
${perPurpose(purposes, (p) => (p.recipients.length ? p.recipients.join(', ') : null), P.noRecipients)}

<h2>${H.transfers}</h2>
${perPurpose(
  purposes,
  (p) => (p.transfers.length ? p.transfers.map((t) => `${t.country_name} (${t.country}): ${t.safeguard_text}`).join('; ') : null),
  P.noTransfers,
)}${purposes.some((p) => p.transfers.length) && notice ? html`<p>${notice.transfers_note}</p>` : ''}

<h2>${H.retention}</h2>
${perPurpose(purposes, (p) => p.retention, P.notStated)}

<h2>${H.source}</h2>
${perPurpose(purposes, (p) => (p.source ? [p.source.text, p.source.detail].filter(Boolean).join(' ') : null), P.notStated)}

<h2>${H.automated_decisions}</h2>
${perPurpose(
  purposes,
  (p) =>
    p.automated_decision
      ? html`${p.automated_decision.exception_text ? html`${P.exceptionRelied}: ${p.automated_decision.exception_text} ` : ''}${p.automated_decision.logic ? html`${P.logic}: ${p.automated_decision.logic}` : ''}`
      : null,
  P.noAutomated,
)}
<h2>${H.rights}</h2>
${(['rectification', 'erasure', 'restriction'] as const).map((r) => {
  const t = rightText(r);
  return html`<h3>${t.title}</h3>
<p>${t.text}</p>
`;
})}
<section class="object">
<h2>${H.right_to_object}</h2>
<h3>${T.objection.title}</h3>
<p>${notice?.right_to_object.text ?? T.objection.general}</p>
<p>${notice?.right_to_object.direct_marketing_text ?? T.objection.directMarketing}</p>
${objectable.length ? html`<p>${P.appliesTo} ${objectable.map((p) => p.title).join(', ')}</p>` : ''}
</section>

<h2>${H.complaint}</h2>
<p>${rightText('complaint').text}</p>
${authority
  ? html`<p><strong>${P.authority}</strong>: ${authority.name}, ${link(authority.url)}${authority.address ? html`, ${authority.address}` : ''}</p>`
  : ''}

<h2>${P.packageHeading}</h2>
${countsTable(summary, P)}
${filesTable(summary.files, P)}
${summary.withheld ? html`<p>${P.withheld}</p>` : ''}
`;

  return html`<!DOCTYPE html>
<html lang="${locale}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<meta name="referrer" content="no-referrer">
<title>${P.title}</title>
<style>${new SafeHtml(STYLE)}</style>
</head>
<body>
${body}</body>
</html>
`.value;
}
