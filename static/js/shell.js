// On every signed-in page: install the service worker, offer its updates, guard sign-out while
// entries are still on the phone only, and sign out without needing a connection.

import { sessionUser } from './db.js';
import { downloadUnsent } from './export.js';
import { finishSignOut, signOutOnPhone } from './signout.js';
import { unsentEntryIds } from './unsent.js';

const UPDATE_CHECK_MS = 60 * 60 * 1000;
const SIGN_IN_PAGE = '/login';
const SIGN_OUT_WAIT_MS = 4000; // as long as a page waits for the network (sw-cache.js)

const waitFor = (ms) => new Promise((resolve) => { setTimeout(resolve, ms); });

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
  let userId = null;
  // Who signs out: the server says so on its own pages; on the app shell's pages (which carry
  // nothing per user) the phone knows, and keeps it in step with the server.
  const fromServer = form.dataset.userId ? Number(form.dataset.userId) : null;
  const sessionId = form.dataset.sessionId || null;

  const signOut = async () => {
    try {
      // The next person on this phone must not act as this user, connection or not.
      await signOutOnPhone({ userId, sessionId });
    } catch (error) {
      console.error('could not forget the user on this phone', error);
      form.dataset.confirmed = 'yes';
      form.requestSubmit(); // the server's own sign-out, as without JavaScript
      return;
    }
    // The server ends the session now if it answers soon; else later (signout.js). Either way
    // the sign-in page follows, from the app shell when there is no connection.
    await Promise.race([finishSignOut(), waitFor(SIGN_OUT_WAIT_MS)]);
    location.replace(`${SIGN_IN_PAGE}?signed_out=1`);
  };

  form.addEventListener('submit', async (event) => {
    if (form.dataset.confirmed === 'yes') return;
    event.preventDefault();
    let unsent = 0;
    try {
      // This user's entries only: another user's stay on the phone, untouched by this.
      userId = fromServer ?? (await sessionUser())?.id ?? null;
      unsent = (await unsentEntryIds(userId)).size;
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
    await downloadUnsent(userId);
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
