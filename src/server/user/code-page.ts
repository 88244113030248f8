/** The only page a visitor sees before entering the LAN access code: a form that creates the session. Self-contained (no assets). */
export function accessCodePage(): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>colony: access code</title>
<style>body{font-family:system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}label{display:block;margin:.8rem 0 .2rem}
input{width:100%;padding:.5rem;font-size:1rem;box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.2rem;font-size:1rem}#err{color:#b00020;min-height:1.2em}</style>
</head><body>
<h1>colony</h1>
<p>This colony asks for an access code. Ask the person running it.</p>
<form id="f">
<label for="name">Your name</label><input id="name" name="display_name" maxlength="60" required autocomplete="nickname">
<label for="code">Access code</label><input id="code" name="code" required autocomplete="off" autocapitalize="characters">
<button type="submit">Enter</button>
<p id="err" role="alert"></p>
</form>
<script>
document.getElementById('f').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const err = document.getElementById('err');
  err.textContent = '';
  const body = { display_name: document.getElementById('name').value, code: document.getElementById('code').value };
  const res = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (res.ok) { location.reload(); return; }
  const j = await res.json().catch(() => ({}));
  err.textContent = j.message || ('error ' + res.status);
});
</script>
</body></html>`;
}
