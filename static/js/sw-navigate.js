// How the service worker answers a navigation (static/sw.js). `shell` names this version's
// cache and pages: {cache, version, pages, signIn, offline}.

import { cached, networkFirst, offlineFallback } from './sw-cache.js';
import { finishSignOut, signOutPending } from './signout.js';

const SIGN_OUT_WAIT_MS = 4000; // as long as a shell page waits for the network (sw-cache.js)

export async function navigate(event, path, shell) {
  let preload = true;
  if (await signOutPending()) {
    // Signed out on this phone with no signal: the server ends that session before any page
    // is fetched with its cookie, and until it can, the sign-in page comes from the shell
    // (at once with no connection, after a few seconds on a connection that does not answer;
    // the sign-out goes on in the background).
    event.waitUntil(Promise.resolve(event.preloadResponse).catch(() => null));
    const finishing = finishSignOut();
    event.waitUntil(finishing.catch(() => false));
    const slow = new Promise((resolve) => { setTimeout(() => resolve(false), SIGN_OUT_WAIT_MS); });
    if (!(await Promise.race([finishing, slow]))) return cached(shell.cache, shell.signIn);
    preload = false; // the preloaded page was asked for in the session that just ended
  }
  if (path === shell.signIn) {
    return networkFirst(event, shell.cache, shell.version, path, { preload, keepShellOnRedirect: false });
  }
  if (shell.pages.includes(path)) {
    return networkFirst(event, shell.cache, shell.version, path, { preload });
  }
  return offlineFallback(event, shell.cache, shell.offline, { preload });
}
