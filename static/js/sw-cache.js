// Cache helpers for the service worker (static/sw.js). One cache per shell version; a page is
// cached only if the server says it belongs to that version (X-Shell-Version), so an old
// worker never stores a new page whose assets it does not hold.

const NAVIGATION_TIMEOUT_MS = 4000; // on a weak signal, the cached shell beats waiting

/**
 * Fetch and store every URL; any failure (signed out, server down) fails the install.
 * Versioned files never change under their URL, so the copy the page has just loaded (the
 * HTTP cache) is the one to keep rather than a second download; pages and the manifest are
 * asked for again (revalidated where the server gives a validator).
 */
export async function precache(cacheName, urls) {
  const cache = await caches.open(cacheName);
  await Promise.all(urls.map(async (url) => {
    const mode = url.startsWith('/app/') ? 'default' : 'no-cache';
    const response = await fetch(url, { cache: mode, credentials: 'same-origin' });
    if (!response.ok || response.redirected) {
      throw new Error(`precache ${url}: ${response.status}${response.redirected ? ' (redirected)' : ''}`);
    }
    await cache.put(url, response);
  }));
}

export async function dropOtherCaches(keep) {
  const names = await caches.keys();
  await Promise.all(names.filter((name) => name !== keep).map((name) => caches.delete(name)));
}

/** `preload: false` when the preloaded answer must not be used (it was asked for with a
 *  session that has ended since). */
function fromNetwork(event, preload) {
  return (async () => (preload && (await event.preloadResponse)) || fetch(event.request))();
}

/**
 * Shell pages: the network (fresh language, fresh version), the cache when it fails or lags.
 * `keepShellOnRedirect`: a redirect is the server asking for a sign-in, which the capture and
 * entries pages do not need (the outbox waits, the page offers "sign in again"); the sign-in
 * page itself follows its redirect (a signed-in person goes home).
 */
export async function networkFirst(event, cacheName, version, key, { preload = true, keepShellOnRedirect = true } = {}) {
  const cache = await caches.open(cacheName);
  const network = fromNetwork(event, preload).then(async (response) => {
    if (response.ok && response.headers.get('X-Shell-Version') === version) {
      await cache.put(key, response.clone());
    }
    return response;
  });
  event.waitUntil(network.catch(() => null));
  const slow = new Promise((resolve) => { setTimeout(resolve, NAVIGATION_TIMEOUT_MS); });
  try {
    const first = await Promise.race([network, slow.then(() => cache.match(key))]);
    const redirect = first?.type === 'opaqueredirect' || first?.redirected;
    if (redirect && keepShellOnRedirect) return (await cache.match(key)) || first;
    return first || (await network);
  } catch {
    return (await cache.match(key)) || Response.error();
  }
}

/** Pages that need the server: the network, or the offline page when there is none. */
export async function offlineFallback(event, cacheName, offlinePage, { preload = true } = {}) {
  try {
    return await fromNetwork(event, preload);
  } catch {
    return cached(cacheName, offlinePage);
  }
}

/** A page of the shell straight from the cache. */
export async function cached(cacheName, page) {
  const cache = await caches.open(cacheName);
  return (await cache.match(page)) || Response.error();
}

/** Versioned assets never change under their URL: the cache, else the network. */
export async function cacheFirst(request, cacheName, ownPrefix) {
  const cache = await caches.open(cacheName);
  const hit = await cache.match(request);
  if (hit) return hit;
  const response = await fetch(request);
  if (response.ok && new URL(request.url).pathname.startsWith(ownPrefix)) {
    await cache.put(request, response.clone());
  }
  return response;
}
