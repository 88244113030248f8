/**
 * The admin app's page for a browser without the admin cookie (or with a
 * wrong token): styled like the dashboard (its stylesheet, no inline CSS:
 * the CSP allows only 'self'), saying how to get in. The token URL can be
 * opened again any time (the token stays valid until the host restarts with
 * a new one); `colony open` prints it.
 */
const ICON =
  "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Crect x='3' y='3' width='10' height='10' rx='2' transform='rotate(45 8 8)' fill='%234f46e5'/%3E%3C/svg%3E";

export function signInPage(kind: 'no-token' | 'bad-token'): string {
  const title = kind === 'bad-token' ? 'That admin link is not valid' : 'Sign in to the colony admin app';
  const lead =
    kind === 'bad-token'
      ? 'The token in that link does not match this host. It may come from an earlier start of the host.'
      : 'This browser has no admin session yet. The admin app opens from the link with the admin token.';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${title} · colony</title>
<link rel="icon" href="${ICON}">
<link rel="stylesheet" href="/assets/style.css">
</head>
<body class="signin">
<main class="signin-main" id="main">
<section class="card signin-card" aria-labelledby="signin-title">
<p class="brand"><span class="logo" aria-hidden="true">◆</span> <span class="brand-name">colony</span> <span class="cap cap-admin">admin</span></p>
<h1 id="signin-title">${title}</h1>
<p>${lead}</p>
<ol class="signin-steps">
<li>Use the admin URL that <code>colony serve</code> printed when it started. You can open it again whenever you need to: it signs this browser in for as long as the host keeps the same token.</li>
<li>Lost it? On this machine, run <code>colony open</code>: it prints the URL again.</li>
</ol>
<p class="muted small">The admin app listens on 127.0.0.1 only. LAN users have their own app on the LAN port.</p>
</section>
</main>
</body>
</html>`;
}
