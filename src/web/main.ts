/**
 * Entry point. The server writes the capability into the page; the admin
 * module is a separate chunk that the user app's page never loads, so the
 * user page holds no admin control at all (and the admin API refuses it anyway).
 */
import { createShell } from './shell.js';
import { showError } from './ui.js';
import type { Capability } from './types.js';

function capabilityOfPage(): Capability {
  const v = document.querySelector('meta[name="colony-capability"]')?.getAttribute('content');
  return v === 'admin' ? 'admin' : 'user';
}

async function boot(): Promise<void> {
  const shell = createShell(capabilityOfPage());
  try {
    if (shell.capability === 'admin') (await import('./admin.js')).mountAdmin(shell);
    else (await import('./user.js')).mountUser(shell);
  } catch (e) {
    showError(e, 'dashboard');
  }
}

void boot();
