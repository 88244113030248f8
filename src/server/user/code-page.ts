/**
 * The only page a visitor sees before entering the LAN access code: the app's
 * own look (its stylesheet, its icon) with a form that creates the session.
 * The CSP forbids inline script and style, so the stylesheet and the form's
 * script are served here, reachable without the code (public, no data).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { ColonyError } from '../../core/errors.js';

/** The app's favicon (src/web/index.html), so the page asks for no /favicon.ico. img-src allows data:. */
const ICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='3' y='3' width='10' height='10' rx='2' transform='rotate(45 8 8)' fill='%234f46e5'/%3E%3C/svg%3E";

const SCRIPT = `const f = document.getElementById('session-form');
f.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('err');
  err.hidden = true;
  const body = { display_name: document.getElementById('display-name').value.trim(), code: document.getElementById('code').value.trim() };
  const button = f.querySelector('button');
  button.disabled = true;
  try {
    const res = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const j = await res.json().catch(() => ({}));
    if (res.ok) { location.reload(); return; }
    err.textContent = j.message || 'error ' + res.status;
    err.hidden = false;
  } finally {
    button.disabled = false;
  }
});
document.getElementById('display-name').focus();
`;

export function accessCodePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="color-scheme" content="light">
<title>colony: access code</title>
<link rel="icon" href="${ICON}">
<link rel="stylesheet" href="/login/style.css">
<script type="module" src="/login/code-page.js"></script>
</head><body>
<div id="app">
<header class="topbar"><div class="brand"><span class="logo" aria-hidden="true">◆</span><span class="brand-name">colony</span><span class="cap cap-user">LAN</span></div></header>
<main id="main" class="main"><div class="welcome">
<section class="card" aria-labelledby="code-heading">
<header class="card-head"><div><h2 id="code-heading">Welcome to colony</h2>
<p class="muted">This colony asks for an access code: ask the person running it. Then you can submit tasks and run them on your own machine.</p></div></header>
<form class="form" id="session-form">
<label class="field"><span class="field-label">Your display name</span><input id="display-name" name="display_name" maxlength="60" required autocomplete="nickname" placeholder="e.g. Ada"><span class="field-hint">Shown to the host’s admin and next to the workers you pair.</span></label>
<label class="field"><span class="field-label">Access code</span><input id="code" name="code" required autocomplete="off" autocapitalize="characters"></label>
<div id="err" class="inline-error" role="alert" hidden></div>
<div class="form-actions"><button type="submit" class="btn btn-primary">Enter</button></div>
</form>
</section>
</div></main>
</div>
</body></html>`;
}

/** The code page's stylesheet (the app's, from the built client) and script, without the access code. */
export function registerCodePageAssets(app: FastifyInstance, webRoot: string | null): void {
  app.get('/login/style.css', { config: { accessCode: false } }, async (_request, reply) => {
    const file = webRoot ? join(webRoot, 'style.css') : null;
    if (!file || !existsSync(file)) throw new ColonyError('E_NOT_FOUND', 'the dashboard is not built: run `npm run build`');
    return reply.type('text/css; charset=utf-8').header('cache-control', 'no-cache').send(readFileSync(file));
  });
  app.get('/login/code-page.js', { config: { accessCode: false } }, async (_request, reply) =>
    reply.type('text/javascript; charset=utf-8').header('cache-control', 'no-cache').send(SCRIPT),
  );
}
