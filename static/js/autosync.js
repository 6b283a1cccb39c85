// When the page sends: at start, when the connection returns, after a save, on "Sync now",
// and again after a failure with exponential backoff and jitter. Background Sync covers the
// time the page is closed (the service worker runs the same engine).

import { replay, announce, SYNC_TAG } from './sync.js';

const BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 5 * 60 * 1000;

export const status = { running: false, attempts: 0, nextAt: null, offline: !navigator.onLine };

let timer = null;
let running = null;
let again = false;

/** "Equal jitter": half the exponential delay for sure, the other half at random. */
export function backoffDelay(attempt) {
  const ceiling = Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt);
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** Ask the browser to run the service worker's sync when a connection is there. */
export async function requestBackgroundSync() {
  try {
    const registration = await navigator.serviceWorker?.getRegistration();
    await registration?.sync?.register(SYNC_TAG);
  } catch {
    // Not supported, or not allowed here: the page's own triggers still send.
  }
}

function changed() {
  announce('status');
}

/** Send now unless a run is under way; `manual` (the button) also forgets earlier failures. */
export function syncNow({ manual = false } = {}) {
  clearTimeout(timer);
  timer = null;
  if (manual) status.attempts = 0;
  status.offline = !navigator.onLine;
  if (status.offline) {
    status.nextAt = null;
    changed();
    return Promise.resolve(null);
  }
  if (running) {
    // A run is under way and may have looked at the outbox already: go again after it.
    again = true;
    return running;
  }
  running = run().finally(() => {
    running = null;
    if (again) {
      again = false;
      syncNow();
    }
  });
  return running;
}

async function run() {
  status.running = true;
  status.nextAt = null;
  changed();
  let summary;
  try {
    summary = await replay();
  } catch (error) {
    console.error('sync failed', error); // a bug, not the network: show it, then back off
    summary = { retry: true, error: String(error) };
  }
  status.running = false;
  if (summary.retry && navigator.onLine) {
    const delay = backoffDelay(status.attempts);
    status.attempts += 1;
    status.nextAt = Date.now() + delay;
    timer = setTimeout(() => syncNow(), delay);
    requestBackgroundSync();
  } else if (!summary.retry) {
    status.attempts = 0;
  }
  changed();
  return summary;
}

export function startAutoSync() {
  addEventListener('online', () => {
    status.offline = false;
    syncNow({ manual: true });
  });
  addEventListener('offline', () => {
    status.offline = true;
    changed();
  });
  syncNow();
}
