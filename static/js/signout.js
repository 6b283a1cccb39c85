// Signing out on a phone that may have no signal (DESIGN.md §5): the phone forgets the user at
// once (unsent.js forgetUser), and the server ends that session at the next connection, before
// anything else is sent or any page is fetched with the old cookie. Used by the pages and the
// service worker, one at a time (a Web Lock).

import * as api from './api.js';
import * as store from './db.js';
import { announce } from './events.js';
import { forgetUser } from './unsent.js';

const LOCK = 'nhatky-signout';

/** Forget `userId` (the phone's signed-in user by default) on this phone now; the session to
 *  end on the server is `sessionId` when the page knows it. */
export async function signOutOnPhone({ userId, sessionId } = {}) {
  const who = userId ?? (await store.sessionUser())?.id ?? null;
  const session = sessionId ?? (await store.getMeta('session_id')) ?? null;
  await forgetUser(who, session);
  announce('user'); // other open pages drop this user too
}

export async function signOutPending() {
  return Boolean(await store.getMeta('signout_pending'));
}

async function finishHoldingLock() {
  const pending = await store.getMeta('signout_pending');
  if (!pending) return true;
  try {
    // Only that session: whoever signed in on this phone since stays signed in.
    await api.endSession(await api.csrfToken(), pending);
  } catch (error) {
    if (error instanceof api.ApiError) return false;
    throw error;
  }
  await store.setMeta('signout_pending', null);
  return true;
}

/**
 * End the server's session if a sign-out made on the phone still waits for it. Resolves to
 * true once nothing is left to do, false when the server could not be reached (try later).
 */
export function finishSignOut() {
  if (!navigator.locks) return finishHoldingLock();
  return navigator.locks.request(LOCK, finishHoldingLock);
}
