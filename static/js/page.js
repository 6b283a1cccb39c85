// What the capture and "my entries" pages share: who is signed in (from the phone, so it
// works offline), the sync bar, and the triggers that send.

import * as api from './api.js';
import { startAutoSync, status, syncNow } from './autosync.js';
import * as store from './db.js';
import { downloadUnsent } from './export.js';
import { formatBytes, formatTime, t } from './i18n.js';
import { finishSignOut } from './signout.js';
import { unsentEntryIds } from './unsent.js';
import { announce, listen } from './sync.js';
import './shell.js';

const $ = (id) => document.getElementById(id);

let currentUser = null;
let persistAsked = false;
// Until the server has said who is signed in and the first sync has run, an empty phone is
// only "still loading", not "signed out" or "without lists".
let sessionChecked = false;
let firstSyncDone = false;

export function user() {
  return currentUser;
}

/** True while a first visit is still fetching the user and the lists from the server. */
export function stillLoading() {
  return navigator.onLine && (!sessionChecked || !firstSyncDone);
}

/** The page's notice; `tone: 'neutral'` for a state that is not a problem (loading). */
export function notice(message, { tone = 'warning' } = {}) {
  const box = $('page-notice');
  if (!box) return;
  box.textContent = message ?? '';
  box.dataset.tone = tone;
  box.hidden = !message;
}

/** Ask once per page for storage the browser will not clear under pressure. */
export async function askPersistentStorage() {
  if (persistAsked || !navigator.storage?.persist) return;
  persistAsked = true;
  try {
    await navigator.storage.persist();
  } catch {
    // Refused or unsupported: the storage line says so.
  }
  renderStorage();
}

async function renderStorage() {
  const line = $('storage-status');
  if (!line || !navigator.storage?.estimate) return;
  const { usage = 0 } = await navigator.storage.estimate();
  const persisted = navigator.storage.persisted ? await navigator.storage.persisted() : false;
  const kept = t(persisted ? 'storage_persisted' : 'storage_not_persisted');
  line.textContent = `${t('storage_used', { used: formatBytes(usage) })} · ${kept}`;
}

async function renderSyncBar() {
  const line = $('sync-status');
  if (!line) return;
  const authNeeded = Boolean(await store.getMeta('auth_required'));
  // Signed out (or never signed in on this phone): the same way back in.
  $('auth-banner').hidden = !(authNeeded || (!currentUser && !stillLoading()));
  const waiting = currentUser ? (await unsentEntryIds(currentUser.id)).size : 0;
  const exportButton = $('export-unsent');
  if (exportButton) exportButton.hidden = waiting === 0;
  const parts = [];
  let state;
  if (status.offline) {
    state = 'offline';
    parts.push(t('offline'));
  } else if (status.running) {
    state = 'syncing';
    parts.push(t('syncing'));
  } else if (authNeeded) {
    state = 'auth';
  } else if (status.nextAt) {
    state = 'retry';
    parts.push(t('retry_at', { time: formatTime(new Date(status.nextAt)) }));
  } else {
    state = waiting ? 'waiting' : 'done';
  }
  if (waiting) parts.push(t('waiting', { n: waiting }));
  else if (!status.offline && !status.running) parts.push(t('all_sent'));
  const last = await store.getMeta('last_sync');
  if (last?.at && state === 'done') parts.push(t('last_sync', { time: formatTime(new Date(last.at)) }));
  line.textContent = parts.join(' · ');
  line.dataset.state = state;
  line.dataset.waiting = String(waiting);
  $('sync-now').disabled = status.running;
}

function showName(person) {
  for (const element of document.querySelectorAll('[data-session-name]')) {
    element.textContent = person?.full_name ?? '';
  }
}

/** The cached page's forms carry the token of the session it was cached under: renew it. */
async function refreshSession() {
  if (!navigator.onLine) return;
  // A sign-out made offline ends on the server first: never re-adopt that user's session.
  if (!(await finishSignOut())) return;
  const seen = await store.generation();
  try {
    const session = await api.getSession();
    for (const input of document.querySelectorAll('input[name="csrf_token"]')) {
      input.value = session.csrf_token;
    }
    if (session.user.id !== currentUser?.id) {
      const someoneElse = currentUser !== null;
      // Not if the user signed out on the phone while this answer was on its way.
      await store.adoptSession(seen, session.user, session.session_id);
      // The page so far showed another user's lists and entries: start it again.
      if (someoneElse) location.reload();
      else announce('user'); // first sign-in seen by this page: draw it for this user
    }
  } catch (error) {
    if (error.kind === 'auth') {
      await store.setMeta('auth_required', true);
      renderSyncBar();
    } else if (!(error instanceof store.SignedOutMeanwhile) && !(error instanceof api.ApiError)) {
      throw error;
    }
  }
}

async function reloadUser() {
  currentUser = await store.sessionUser();
  showName(currentUser);
}

/**
 * Start the page: `render(reason)` draws the page's own part from IndexedDB, first now and
 * then whenever the data changes (a save, a sync in this page or in the service worker).
 */
export async function startPage(render) {
  await reloadUser();
  listen(async (message) => {
    if (message.what === 'status') {
      await renderSyncBar();
      return;
    }
    if (message.what === 'synced') firstSyncDone = true;
    const before = currentUser?.id;
    await reloadUser();
    await renderSyncBar();
    if (message.what === 'synced' && !message.summary?.retry) renderStorage();
    await render(currentUser?.id !== before ? 'user' : message.what);
  });
  $('sync-now')?.addEventListener('click', () => {
    askPersistentStorage();
    syncNow({ manual: true });
  });
  $('export-unsent')?.addEventListener('click', async () => {
    if (!(await downloadUnsent(currentUser?.id ?? null))) notice(t('export_none'));
  });
  await render('start');
  await renderSyncBar();
  renderStorage();
  refreshSession().finally(async () => {
    sessionChecked = true;
    await renderSyncBar();
    await render('session');
  });
  startAutoSync();
}
