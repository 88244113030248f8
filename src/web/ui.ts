/** Shared page pieces: error notices, confirmation dialog, empty states, state pills, tabs. */
import { describeError } from './api.js';
import { byId, h, put } from './dom.js';

// ---- errors and notices --------------------------------------------------

/** Shows `{code, message}` of an error in the page-level notice area. */
export function showError(e: unknown, context?: string): void {
  const { code, message } = describeError(e);
  notice('error', `${context ? context + ': ' : ''}${message}`, code);
}

export function notice(kind: 'error' | 'info' | 'success', message: string, code?: string): void {
  const area = byId('notices');
  const item = h(
    'div',
    { class: `notice notice-${kind}`, role: kind === 'error' ? 'alert' : 'status' },
    code ? h('code', { class: 'notice-code' }, code) : null,
    h('span', { class: 'notice-text' }, message),
    h('button', { type: 'button', class: 'icon-btn', 'aria-label': 'Dismiss', onclick: () => item.remove() }, '×'),
  );
  area.append(item);
  if (kind !== 'error') setTimeout(() => item.remove(), 5000);
  while (area.children.length > 4) area.firstElementChild?.remove();
}

/** An inline error box next to a form or list; empty the box with `clearInline`. */
export function inlineError(box: HTMLElement, e: unknown): void {
  const { code, message } = describeError(e);
  box.hidden = false;
  put(box, h('code', { class: 'notice-code' }, code), ' ', message);
}

export function clearInline(box: HTMLElement): void {
  box.hidden = true;
  box.replaceChildren();
}

export function errorBox(): HTMLDivElement {
  return h('div', { class: 'inline-error', role: 'alert', hidden: true });
}

// ---- dialog ---------------------------------------------------------------

export interface ConfirmOptions {
  title: string;
  body: string;
  confirm: string;
  danger?: boolean;
  /** Extra controls under the body (e.g. choices the caller reads after confirm). */
  extra?: Node;
}

/** A modal confirmation (native <dialog>: focus trapped, Escape cancels). Resolves true on confirm. */
export function confirmDialog(o: ConfirmOptions): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = h('button', { type: 'button', class: 'btn', value: 'cancel' }, 'Cancel');
    const ok = h('button', { type: 'button', class: `btn ${o.danger ? 'btn-danger' : 'btn-primary'}`, value: 'confirm', 'data-confirm': true }, o.confirm);
    const dlg = h(
      'dialog',
      { class: 'dialog', 'aria-labelledby': 'dialog-title' },
      h('h2', { id: 'dialog-title' }, o.title),
      h('p', {}, o.body),
      o.extra ?? null,
      h('div', { class: 'dialog-actions' }, cancel, ok),
    );
    const done = (v: boolean): void => {
      dlg.close();
      dlg.remove();
      resolve(v);
    };
    cancel.addEventListener('click', () => done(false));
    ok.addEventListener('click', () => done(true));
    dlg.addEventListener('cancel', (ev) => {
      ev.preventDefault();
      done(false);
    });
    document.body.append(dlg);
    dlg.showModal();
    (o.danger ? cancel : ok).focus();
  });
}

// ---- small pieces ---------------------------------------------------------

export function statePill(state: string): HTMLSpanElement {
  return h('span', { class: `pill state-${state}`, 'data-state': state }, state.replace(/_/g, ' '));
}

export function setStatePill(pill: Element, state: string): void {
  pill.className = `pill state-${state}`;
  pill.setAttribute('data-state', state);
  pill.textContent = state.replace(/_/g, ' ');
}

export function emptyState(title: string, ...body: (Node | string)[]): HTMLDivElement {
  return h('div', { class: 'empty' }, h('p', { class: 'empty-title' }, title), body.length ? h('div', { class: 'empty-body' }, ...body) : null);
}

export function section(title: string, opts: { id?: string; actions?: Node[]; description?: string } = {}, ...content: Node[]): HTMLElement {
  const headingId = `${opts.id ?? title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-heading`;
  return h(
    'section',
    { class: 'card', id: opts.id, 'aria-labelledby': headingId },
    h(
      'header',
      { class: 'card-head' },
      h('div', {}, h('h2', { id: headingId }, title), opts.description ? h('p', { class: 'muted' }, opts.description) : null),
      opts.actions ? h('div', { class: 'card-actions' }, ...opts.actions) : null,
    ),
    ...content,
  );
}

export function field(label: string, control: HTMLElement, hint?: string): HTMLLabelElement {
  return h('label', { class: 'field' }, h('span', { class: 'field-label' }, label), control, hint ? h('span', { class: 'field-hint' }, hint) : null);
}

/** Runs an async action with the button disabled; errors go to `box` or the notice area. */
export async function busy(button: HTMLButtonElement | null, fn: () => Promise<void>, box?: HTMLElement): Promise<void> {
  if (button) button.disabled = true;
  if (box) clearInline(box);
  try {
    await fn();
  } catch (e) {
    if (box) inlineError(box, e);
    else showError(e);
  } finally {
    if (button) button.disabled = false;
  }
}

/** Copies text, falling back to selecting it when the clipboard API is unavailable (plain http on a LAN address). */
export async function copyText(text: string, fallbackTarget: HTMLElement): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const range = document.createRange();
    range.selectNodeContents(fallbackTarget);
    const sel = window.getSelection();
    sel?.removeAllRanges();
    sel?.addRange(range);
    return document.execCommand?.('copy') ?? false;
  }
}

// ---- tabs -----------------------------------------------------------------

export interface Tab {
  id: string;
  label: string;
  panel: HTMLElement;
  onShow?: () => void;
  badge?: HTMLElement;
}

/** Hash-routed tabs; every panel stays in the DOM (hidden) so live updates keep flowing. */
export function mountTabs(nav: HTMLElement, main: HTMLElement, tabs: Tab[]): (id: string) => void {
  const links = new Map<string, HTMLAnchorElement>();
  for (const t of tabs) {
    const a = h('a', { href: `#${t.id}`, class: 'tab', id: `tab-${t.id}` }, t.label, t.badge ?? null);
    links.set(t.id, a);
    nav.append(a);
    t.panel.id = `panel-${t.id}`;
    t.panel.classList.add('panel');
    t.panel.setAttribute('aria-labelledby', `tab-${t.id}`);
    t.panel.hidden = true;
    main.append(t.panel);
  }
  let shown: Tab | undefined;
  const show = (hash: string): void => {
    // `#queue?state=failed` names the tab before "?"; a hash that names no tab (e.g. a task link) keeps the tab shown.
    const id = hash.split('?')[0];
    const tab = tabs.find((t) => t.id === id) ?? shown ?? tabs[0];
    shown = tab;
    if (!tab) return;
    for (const t of tabs) {
      t.panel.hidden = t !== tab;
      const a = links.get(t.id);
      if (t === tab) a?.setAttribute('aria-current', 'page');
      else a?.removeAttribute('aria-current');
    }
    tab.onShow?.();
  };
  window.addEventListener('hashchange', () => show(location.hash.slice(1)));
  show(location.hash.slice(1));
  return (id) => {
    if (location.hash.slice(1) === id) show(id);
    else location.hash = id;
  };
}
