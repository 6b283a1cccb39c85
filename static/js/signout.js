// Signing out on a phone that may have no signal (DESIGN.md §5): the phone forgets the user at
// once, and the server ends the session at the next connection, before anything else is sent
// or any page is fetched with the old cookie. Used by the pages and the service worker.

import * as api from './api.js';
import * as store from './db.js';

/** Forget the signed-in user on this phone now; the server is told by finishSignOut(). */
export async function signOutOnPhone() {
  const user = await store.sessionUser();
  await store.forgetUser(user?.id ?? null);
}

export async function signOutPending() {
  return Boolean(await store.getMeta('signout_pending'));
}

/**
 * End the server's session if a sign-out made on the phone still waits for it. Resolves to
 * true once nothing is left to do, false when the server could not be reached (try later).
 */
export async function finishSignOut() {
  const pending = await store.getMeta('signout_pending');
  if (!pending) return true;
  try {
    // Only that user's session: whoever signed in on this phone since stays signed in.
    await api.endSession(await api.csrfToken(), pending.user_id);
  } catch (error) {
    if (error instanceof api.ApiError) return false;
    throw error;
  }
  await store.setMeta('signout_pending', null);
  return true;
}
