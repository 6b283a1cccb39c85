// On every signed-in page: install the service worker, offer its updates, and guard sign-out
// while entries are still on the phone only.

import { setMeta, unsentEntryIds } from './db.js';
import { downloadUnsent } from './export.js';

const UPDATE_CHECK_MS = 60 * 60 * 1000;

let updateAccepted = false;
let reloading = false;

export const registration = registerWorker();

async function registerWorker() {
  if (!('serviceWorker' in navigator)) return null;
  try {
    // A module worker: it imports the same sync engine as the pages.
    const reg = await navigator.serviceWorker.register('/sw.js', { type: 'module', scope: '/' });
    watchForUpdates(reg);
    return reg;
  } catch (error) {
    console.error('service worker not registered', error);
    return null;
  }
}

function checkForUpdate(reg) {
  if (navigator.onLine) reg.update().catch(() => {}); // offline or server down: next time
}

function watchForUpdates(reg) {
  // An update waits until the user says so: reloading under someone typing loses their words.
  if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
  reg.addEventListener('updatefound', () => {
    const worker = reg.installing;
    worker?.addEventListener('statechange', () => {
      if (worker.state === 'installed' && navigator.serviceWorker.controller) offerUpdate(worker);
    });
  });
  navigator.serviceWorker.addEventListener('controllerchange', () => {
    // The first install also changes the controller (clients.claim); reload only on request.
    if (!updateAccepted || reloading) return;
    reloading = true;
    location.reload();
  });
  addEventListener('online', () => checkForUpdate(reg));
  setInterval(() => checkForUpdate(reg), UPDATE_CHECK_MS);
  checkForUpdate(reg);
}

function offerUpdate(worker) {
  const banner = document.getElementById('update-banner');
  const button = document.getElementById('update-button');
  if (!banner || !button) return;
  banner.hidden = false;
  button.addEventListener('click', () => {
    updateAccepted = true;
    button.disabled = true;
    worker.postMessage({ type: 'SKIP_WAITING' });
  }, { once: true });
}

// --- sign-out guard ---------------------------------------------------------------------

function guardSignOut() {
  const form = document.querySelector('form[data-signout]');
  const dialog = document.getElementById('signout-dialog');
  if (!form || !dialog) return;
  const text = document.getElementById('signout-text');
  const exportButton = document.getElementById('signout-export');
  const anyway = document.getElementById('signout-anyway');

  const signOut = async () => {
    // The next person on this phone must not act as this user while offline.
    await setMeta('session', null).catch(() => {});
    form.dataset.confirmed = 'yes';
    form.requestSubmit();
  };

  form.addEventListener('submit', async (event) => {
    if (form.dataset.confirmed === 'yes') return;
    event.preventDefault();
    let unsent = 0;
    try {
      unsent = (await unsentEntryIds()).size;
    } catch (error) {
      console.error('could not count unsent entries', error);
    }
    if (!unsent) {
      await signOut();
      return;
    }
    const template = unsent === 1 ? text.dataset.one : text.dataset.other;
    text.textContent = template.replace('%(n)s', String(unsent));
    anyway.hidden = true;
    dialog.showModal();
  });
  exportButton.addEventListener('click', async () => {
    await downloadUnsent();
    anyway.hidden = false; // a copy is safe now; signing out is the user's call
    anyway.focus();
  });
  anyway.addEventListener('click', () => {
    dialog.close();
    signOut();
  });
  document.getElementById('signout-cancel')?.addEventListener('click', () => dialog.close());
}

guardSignOut();
