/**
 * The page frame shared by both apps: header (brand, capability, live
 * connection, kill-switch state), the halted banner, tabs and the task
 * drawer. What goes into the tabs is decided by the app module loaded for
 * the capability the server wrote into the page.
 */
import { api } from './api.js';
import { byId, h, put, str } from './dom.js';
import { Live, type ConnectionState } from './live.js';
import { showError } from './ui.js';
import type { Capability, Status, SwitchState } from './types.js';

export interface Shell {
  capability: Capability;
  live: Live;
  header: HTMLElement; // right-hand side of the top bar, for app controls
  nav: HTMLElement;
  main: HTMLElement;
  status: () => Status | null;
  onStatus: (fn: (s: Status) => void) => void;
  refreshStatus: () => Promise<void>;
  killswitch: () => SwitchState;
}

export function createShell(capability: Capability): Shell {
  const live = new Live('/events');
  const root = byId('app');
  const conn = h(
    'span',
    { class: 'conn conn-connecting', role: 'status', 'aria-live': 'polite' },
    h('span', { class: 'conn-dot', 'aria-hidden': 'true' }),
    h('span', { class: 'conn-text' }, 'connecting'),
  );
  const ks = h('span', { class: 'pill ks ks-running', id: 'killswitch-state', title: 'Kill switch' }, 'running');
  const controls = h('div', { class: 'top-controls' });
  const sbx = h('span', { class: 'pill sbx-off', id: 'sandbox-state', role: 'status', hidden: true }, 'unsandboxed');
  const banner = h('div', { class: 'banner', id: 'halt-banner', role: 'status', hidden: true });
  // The LAN transport: a warning on both apps when it is plain HTTP; the admin sees the certificate fingerprint to compare.
  const transport = h('div', { class: 'banner banner-paused', id: 'transport-banner', role: 'note', hidden: true });
  const nav = h('nav', { class: 'tabs', 'aria-label': 'Sections' });
  const main = h('main', { id: 'main', class: 'main', tabindex: '-1' });
  put(
    root,
    h('a', { class: 'skip-link', href: '#main' }, 'Skip to content'),
    h(
      'header',
      { class: 'topbar' },
      h(
        'div',
        { class: 'brand' },
        h('span', { class: 'logo', 'aria-hidden': 'true' }, '◆'),
        h('span', { class: 'brand-name' }, 'colony'),
        h('span', { class: `cap cap-${capability}` }, capability === 'admin' ? 'admin' : 'LAN'),
      ),
      h('div', { class: 'top-status' }, conn, h('span', { class: 'ks-wrap' }, h('span', { class: 'sr-only' }, 'Kill switch: '), ks), sbx),
      controls,
    ),
    banner,
    transport,
    nav,
    main,
  );

  watchTabOverflow(nav);

  live.onStatus((s: ConnectionState) => {
    conn.className = `conn conn-${s}`;
    const text = conn.querySelector('.conn-text');
    if (text) text.textContent = s === 'live' ? 'live' : s;
  });

  let status: Status | null = null;
  let ksState: SwitchState = 'running';
  const listeners = new Set<(s: Status) => void>();
  const setSwitch = (st: SwitchState): void => {
    ksState = st;
    ks.className = `pill ks ks-${st}`;
    ks.textContent = st;
    document.body.dataset['killswitch'] = st;
    banner.hidden = st === 'running';
    banner.className = `banner banner-${st}`;
    banner.textContent =
      st === 'halted'
        ? 'Halted: running tasks were cancelled and nothing is dispatched until the admin resumes.'
        : st === 'paused'
          ? 'Paused: running tasks finish, no new task starts until the admin resumes.'
          : '';
  };
  const showTransport = (lan: Status['lan']): void => {
    transport.hidden = !lan || (!lan.insecure_http && capability !== 'admin');
    transport.className = lan?.insecure_http ? 'banner banner-halted' : 'banner lan-tls';
    transport.textContent = !lan
      ? ''
      : lan.insecure_http
        ? 'Warning: the LAN app runs over plain HTTP (--insecure-http): prompts, output and session cookies cross the network readable by anyone on it.'
        : `LAN app certificate (self-signed) SHA-256: ${lan.tls_fingerprint ?? ''}. Browsers and workers should see this same fingerprint.`;
  };
  // Red when tasks run without the OS sandbox (explicitly off) or cannot run at all (on, but it cannot start).
  const setSandbox = (s: Status['sandbox']): void => {
    sbx.hidden = !s || (s.on && s.available);
    if (!s || sbx.hidden) return;
    sbx.textContent = s.on ? 'sandbox unavailable' : 'unsandboxed';
    sbx.title = s.on ? `Tasks are refused: ${s.problem ?? ''}` : 'safety.sandbox is false: tasks run without the OS sandbox';
  };
  const refreshStatus = async (): Promise<void> => {
    try {
      status = await api.get<Status>('/api/status');
      setSwitch(status.killswitch);
      showTransport(status.lan ?? null);
      setSandbox(status.sandbox);
      for (const fn of listeners) fn(status);
    } catch (e) {
      showError(e, 'status');
    }
  };
  live.on('killswitch', (e) => {
    const st = str(e.data['state']);
    if (st === 'running' || st === 'paused' || st === 'halted') setSwitch(st);
  });
  live.onResync(() => void refreshStatus());

  return {
    capability,
    live,
    header: controls,
    nav,
    main,
    status: () => status,
    onStatus: (fn) => listeners.add(fn),
    refreshStatus,
    killswitch: () => ksState,
  };
}

/**
 * On a phone the tab row is wider than the screen: it fades out at the side
 * where more tabs are (classes tabs-more-left / tabs-more-right), and the
 * current tab is scrolled into view, so it is clear that the row scrolls.
 */
function watchTabOverflow(nav: HTMLElement): void {
  const update = (): void => {
    const more = nav.scrollWidth - nav.clientWidth > 1;
    nav.classList.toggle('tabs-more-left', more && nav.scrollLeft > 1);
    nav.classList.toggle('tabs-more-right', more && nav.scrollLeft + nav.clientWidth < nav.scrollWidth - 1);
  };
  const current = (): void => {
    const link = nav.querySelector<HTMLElement>('[aria-current="page"]');
    if (link) nav.scrollLeft = Math.max(0, link.offsetLeft - nav.clientWidth / 2 + link.offsetWidth / 2);
    update();
  };
  nav.addEventListener('scroll', update, { passive: true });
  window.addEventListener('resize', update);
  window.addEventListener('hashchange', () => requestAnimationFrame(current));
  new MutationObserver(() => requestAnimationFrame(current)).observe(nav, { childList: true, subtree: true, attributeFilter: ['aria-current'] });
}
