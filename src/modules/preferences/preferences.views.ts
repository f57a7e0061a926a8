// The page's templates (Eta) and the view models they draw. Every value goes through <%= %>, which escapes it
// (autoEscape, Eta's default, kept on); the raw tag <%~ %> appears only for the layout's body and partials, never for
// data — preferences.views.test checks that. Templates live in this module (not .eta files) so the build ships them.
import { Eta } from 'eta/core';
import type { PageLocale, PageTexts } from './preferences.texts.js';

const LAYOUT = `<!doctype html>
<html lang="<%= it.lang %>">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="robots" content="noindex, nofollow">
<title><%= it.title %><% if (it.org) { %> · <%= it.org %><% } %></title>
<link rel="stylesheet" href="/preferences/style.css">
<style nonce="<%= it.nonce %>">:root{--brand:<%= it.brand %>}</style>
<script src="/preferences/app.js" defer></script>
</head>
<body>
<a class="skip" href="#main"><%= it.t.skip %></a>
<header class="top">
<% if (it.org) { %><p class="org"><%= it.org %></p><% } else { %><p class="org"></p><% } %>
<nav aria-label="<%= it.t.languages %>">
<ul class="langs">
<% it.languages.forEach(function (l) { %>
<li><a href="<%= l.href %>" lang="<%= l.code %>" hreflang="<%= l.code %>"<% if (l.current) { %> aria-current="true"<% } %>><%= l.name %></a></li>
<% }) %>
</ul>
</nav>
</header>
<main id="main" tabindex="-1">
<%~ it.body %>
</main>
<% if (it.footer) { %><footer><p><%= it.footer %></p></footer><% } %>
</body>
</html>
`;

const MESSAGE = `<% layout('@layout') %>
<h1><%= it.heading %></h1>
<p><%= it.text %></p>
<% if (it.back) { %><p><a href="/preferences"><%= it.t.error.back %></a></p><% } %>
`;

const CODE_FIELD = `<p class="field">
<label for="<%= it.id %>"><%= it.label %></label>
<input id="<%= it.id %>" name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" maxlength="6" minlength="6" required aria-describedby="<%= it.id %>-hint">
<span class="hint" id="<%= it.id %>-hint"><%= it.hint %></span>
</p>
`;

const CSRF = `<input type="hidden" name="csrf" value="<%= it.csrf %>">`;

const PAGE = `<% layout('@layout') %>
<h1><%= it.t.title %></h1>
<p class="lead"><%= it.t.intro(it.org) %></p>
<div role="status" class="flash<% if (it.flash && it.flash.error) { %> flash-error<% } %><% if (!it.flash) { %> empty<% } %>"><% if (it.flash) { %><p><%= it.flash.text %></p><% } %></div>

<section aria-labelledby="h-purposes">
<h2 id="h-purposes"><%= it.t.purposes.heading %></h2>
<p><%= it.t.purposes.intro %></p>
<% if (it.purposes.length === 0) { %><p><%= it.t.purposes.none %></p><% } %>
<% it.purposes.forEach(function (p) { %>
<article class="purpose" aria-labelledby="<%= p.id %>">
<h3 id="<%= p.id %>"><%= p.title %></h3>
<p><%= p.description %></p>
<dl>
<div><dt><%= it.t.purposes.basis %></dt><dd><%= p.basis %></dd></div>
<% if (p.categories) { %><div><dt><%= it.t.purposes.categories %></dt><dd><%= p.categories %></dd></div><% } %>
<div><dt><%= it.t.purposes.retention %></dt><dd><%= p.retention %></dd></div>
<% if (p.consentText) { %><div><dt><%= it.t.purposes.state %></dt><dd class="state state-<%= p.consent %>"><%= p.consentText %></dd></div><% } %>
</dl>
<% if (p.automated) { %><p class="note"><%= it.t.purposes.automated %></p><% } %>
<% if (p.canGrant || p.canWithdraw) { %>
<form method="post" action="/preferences/consents" class="inline">
<%~ include('@csrf', it) %>
<input type="hidden" name="purpose" value="<%= p.key %>">
<input type="hidden" name="purpose_version" value="<%= p.version %>">
<% if (p.canWithdraw) { %><input type="hidden" name="action" value="withdraw"><button type="submit"><%= it.t.consent.withdraw %><span class="vh"> (<%= p.title %>)</span></button><% } else { %><input type="hidden" name="action" value="grant"><button type="submit"><%= it.t.consent.grant %><span class="vh"> (<%= p.title %>)</span></button><% } %>
</form>
<p class="note"><%= it.t.consent.withdrawNote %></p>
<% } else if (!p.onConsent) { %><p class="note"><%= it.t.consent.notConsent %></p><% } %>
</article>
<% }) %>
</section>

<section class="object" aria-labelledby="h-object">
<h2 id="h-object"><%= it.t.object.heading %></h2>
<p><strong><%= it.t.object.intro %></strong></p>
<h3><%= it.t.object.marketingHeading %></h3>
<p><%= it.t.object.marketingText %></p>
<% if (it.marketing.all) { %>
<p class="done"><%= it.t.object.marketingAllDone %></p>
<% } else { %>
<form method="post" action="/preferences/objections" class="inline">
<%~ include('@csrf', it) %>
<input type="hidden" name="scope" value="direct_marketing">
<button type="submit"><%= it.t.object.marketingAll %></button>
</form>
<% if (it.marketing.purposes.length > 0) { %>
<ul class="choices">
<% it.marketing.purposes.forEach(function (p) { %>
<li><span><%= p.title %></span>
<% if (p.objected) { %><span class="done"><%= it.t.object.marketingPurposeDone %></span><% } else { %>
<form method="post" action="/preferences/objections" class="inline">
<%~ include('@csrf', it) %>
<input type="hidden" name="scope" value="direct_marketing">
<input type="hidden" name="purpose" value="<%= p.key %>">
<button type="submit"><%= it.t.object.marketingPurpose %><span class="vh"> (<%= p.title %>)</span></button>
</form>
<% } %>
</li>
<% }) %>
</ul>
<% } %>
<% } %>
<% if (it.processing.length > 0) { %>
<h3><%= it.t.object.processingHeading %></h3>
<p><%= it.t.object.processingText %></p>
<% it.processing.forEach(function (p) { %>
<div class="objection">
<h4><%= p.title %></h4>
<% if (p.objected) { %><p class="done"><%= it.t.object.processingDone %></p><% } else { %>
<form method="post" action="/preferences/objections">
<%~ include('@csrf', it) %>
<input type="hidden" name="scope" value="processing">
<input type="hidden" name="purpose" value="<%= p.key %>">
<p class="field"><label for="<%= p.id %>-grounds"><%= it.t.object.grounds %></label>
<textarea id="<%= p.id %>-grounds" name="grounds" rows="3" maxlength="5000"></textarea></p>
<button type="submit"><%= it.t.object.processingButton %><span class="vh"> (<%= p.title %>)</span></button>
</form>
<% } %>
</div>
<% }) %>
<% } %>
<h3><%= it.t.object.automatedHeading %></h3>
<p><%= it.t.object.automatedText %></p>
<% if (it.automatedObjected) { %><p class="done"><%= it.t.object.automatedDone %></p><% } else { %>
<form method="post" action="/preferences/objections" class="inline">
<%~ include('@csrf', it) %>
<input type="hidden" name="scope" value="automated_decisions">
<button type="submit"><%= it.t.object.automatedButton %></button>
</form>
<% } %>
</section>

<section aria-labelledby="h-rights">
<h2 id="h-rights"><%= it.t.rights.heading %></h2>
<p><%= it.t.rights.intro %></p>

<h3 id="h-status"><%= it.t.requests.heading %></h3>
<% if (it.requests.length === 0) { %><p><%= it.t.requests.none %></p><% } else { %>
<div class="table-wrap">
<table>
<caption class="vh"><%= it.t.requests.caption %></caption>
<thead><tr><th scope="col"><%= it.t.requests.type %></th><th scope="col"><%= it.t.requests.status %></th><th scope="col"><%= it.t.requests.received %></th><th scope="col"><%= it.t.requests.due %></th></tr></thead>
<tbody>
<% it.requests.forEach(function (r) { %>
<tr><td><%= r.type %></td><td><%= r.status %></td><td><%= r.received %></td><td><%= r.due %><% if (r.extended) { %> (<%= it.t.requests.extended %>)<% } %></td></tr>
<% }) %>
</tbody>
</table>
</div>
<% } %>

<h3 id="h-new"><%= it.t.rights.newHeading %></h3>
<form method="post" action="/preferences/requests">
<%~ include('@csrf', it) %>
<fieldset>
<legend><%= it.t.rights.typeLegend %></legend>
<% it.requestTypes.forEach(function (r, i) { %>
<div class="option">
<input type="radio" id="type-<%= r.value %>" name="type" value="<%= r.value %>" aria-describedby="type-<%= r.value %>-text"<% if (i === 0) { %> required<% } %>>
<label for="type-<%= r.value %>"><%= r.title %></label>
<span class="hint" id="type-<%= r.value %>-text"><%= r.text %></span>
</div>
<% }) %>
</fieldset>
<p class="field"><label for="details"><%= it.t.rights.details %></label>
<textarea id="details" name="details" rows="4" maxlength="5000" aria-describedby="details-hint"></textarea>
<span class="hint" id="details-hint"><%= it.t.rights.detailsHint %></span></p>
<button type="submit"><%= it.t.rights.submit %></button>
</form>

<h4 id="h-rectification"><%= it.t.rights.types.rectification.title %></h4>
<p><%= it.t.rights.types.rectification.text %></p>
<form method="post" action="/preferences/requests">
<%~ include('@csrf', it) %>
<input type="hidden" name="type" value="rectification">
<p class="field"><label for="rect-category"><%= it.t.rectification.category %></label>
<select id="rect-category" name="category">
<% it.rectificationCategories.forEach(function (c) { %><option value="<%= c.value %>"><%= c.title %></option><% }) %>
</select></p>
<p class="field"><label for="rect-field"><%= it.t.rectification.field %></label>
<input id="rect-field" name="field" maxlength="100" required aria-describedby="rect-field-hint">
<span class="hint" id="rect-field-hint"><%= it.t.rectification.fieldHint %></span></p>
<p class="field"><label for="rect-value"><%= it.t.rectification.value %></label>
<input id="rect-value" name="value" maxlength="2000" required></p>
<button type="submit"><%= it.t.rectification.submit %></button>
</form>

<h4 id="h-restriction"><%= it.t.rights.types.restriction.title %></h4>
<p><%= it.t.rights.types.restriction.text %></p>
<form method="post" action="/preferences/requests">
<%~ include('@csrf', it) %>
<input type="hidden" name="type" value="restriction">
<fieldset>
<legend><%= it.t.restriction.legend %></legend>
<% it.restrictionGrounds.forEach(function (g, i) { %>
<div class="option">
<input type="radio" id="ground-<%= g.value %>" name="restriction_ground" value="<%= g.value %>"<% if (i === 0) { %> required<% } %>>
<label for="ground-<%= g.value %>"><%= g.title %></label>
</div>
<% }) %>
</fieldset>
<button type="submit"><%= it.t.restriction.submit %></button>
</form>

<h3 id="h-erasure"><%= it.t.erasure.heading %></h3>
<p><%= it.t.erasure.text %></p>
<h4><%= it.t.erasure.step1 %></h4>
<form method="post" action="/preferences/codes" class="inline">
<%~ include('@csrf', it) %>
<input type="hidden" name="action" value="erasure">
<button type="submit"><%= it.t.erasure.sendCode %></button>
</form>
<% if (it.erasureCodeSent) { %>
<h4><%= it.t.erasure.step2 %></h4>
<form method="post" action="/preferences/requests" data-confirm="<%= it.t.erasure.confirm %>">
<%~ include('@csrf', it) %>
<input type="hidden" name="type" value="erasure">
<%~ include('@code', { id: 'erasure-code', label: it.t.erasure.code, hint: it.t.erasure.codeHint }) %>
<button type="submit" class="danger"><%= it.t.erasure.submit %></button>
</form>
<% } %>

<h3 id="h-exports"><%= it.t.exports.heading %></h3>
<% if (it.exports.length === 0) { %><p><%= it.t.exports.none %></p><% } %>
<% it.exports.forEach(function (x) { %>
<div class="export">
<h4><%= x.label %></h4>
<% if (!x.ready) { %><p><%= it.t.exports.deleted %></p><% } else { %>
<p class="note"><%= it.t.exports.codeHint %></p>
<form method="post" action="/preferences/codes" class="inline">
<%~ include('@csrf', it) %>
<input type="hidden" name="action" value="export">
<button type="submit"><%= it.t.exports.sendCode %><span class="vh"> (<%= x.label %>)</span></button>
</form>
<% if (it.exportCodeSent) { %>
<form method="post" action="/preferences/exports/<%= x.requestId %>/download">
<%~ include('@csrf', it) %>
<%~ include('@code', { id: x.id + '-code', label: it.t.exports.code, hint: it.t.erasure.codeHint }) %>
<button type="submit"><%= it.t.exports.download %><span class="vh"> (<%= x.label %>)</span></button>
</form>
<% } %>
<% } %>
</div>
<% }) %>
</section>
`;

export const TEMPLATES: Record<string, string> = { '@layout': LAYOUT, '@message': MESSAGE, '@page': PAGE, '@code': CODE_FIELD, '@csrf': CSRF };

const eta = new Eta({ autoEscape: true, cache: true });
for (const [name, source] of Object.entries(TEMPLATES)) eta.loadTemplate(name, source);

type Language = { code: PageLocale; name: string; href: string; current: boolean };
type Chrome = { lang: PageLocale; t: PageTexts; nonce: string; brand: string; org: string | null; languages: Language[]; footer?: string | null };

export type PurposeView = {
  id: string;
  key: string;
  version: number;
  title: string;
  description: string;
  basis: string;
  categories: string;
  retention: string;
  automated: boolean;
  onConsent: boolean;
  consent: string;
  consentText: string | null;
  canGrant: boolean;
  canWithdraw: boolean;
};

export type PageView = Chrome & {
  title: string;
  org: string;
  csrf: string;
  flash: { text: string; error: boolean } | null;
  purposes: PurposeView[];
  marketing: { all: boolean; purposes: { key: string; title: string; objected: boolean }[] };
  processing: { id: string; key: string; title: string; objected: boolean }[];
  automatedObjected: boolean;
  requestTypes: { value: string; title: string; text: string }[];
  rectificationCategories: { value: string; title: string }[];
  restrictionGrounds: { value: string; title: string }[];
  erasureCodeSent: boolean;
  exportCodeSent: boolean;
  requests: { type: string; status: string; received: string; due: string; extended: boolean }[];
  exports: { id: string; requestId: string; label: string; ready: boolean }[];
};

export type MessageView = Chrome & { title: string; heading: string; text: string; back: boolean };

export const renderPage = (view: PageView): string => eta.render('@page', view);
export const renderMessage = (view: MessageView): string => eta.render('@message', view);
