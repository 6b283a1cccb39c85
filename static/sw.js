// The service worker: only event handlers; the helpers live in static/js/sw-cache.js and the
// sync engine in static/js/sync.js. webapp/field/routes.py serves this file at /sw.js (scope
// "/") behind a generated preamble that defines SHELL_VERSION, PRECACHE_URLS, SHELL_PAGES and
// OFFLINE_PAGE, so every shell version is a byte-different worker and updates are noticed.
/* global SHELL_VERSION, PRECACHE_URLS, SHELL_PAGES, OFFLINE_PAGE */

import { cacheFirst, dropOtherCaches, networkFirst, offlineFallback, precache } from '/static/js/sw-cache.js';
import { replay, SYNC_TAG } from '/static/js/sync.js';

const CACHE = `shell-${SHELL_VERSION}`;

self.addEventListener('install', (event) => {
  // No skipWaiting here: a new version waits until the user taps "update" (shell.js).
  event.waitUntil(precache(CACHE, PRECACHE_URLS));
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    await dropOtherCaches(CACHE); // caches only: IndexedDB (the outbox) is never touched
    await self.registration.navigationPreload?.enable();
    await self.clients.claim();
  })());
});

self.addEventListener('message', (event) => {
  if (event.data?.type === 'SKIP_WAITING') self.skipWaiting();
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  const url = new URL(request.url);
  if (request.method !== 'GET' || url.origin !== self.location.origin) return;
  if (url.pathname.startsWith('/api/')) return; // data is never cached here
  if (request.mode === 'navigate') {
    if (SHELL_PAGES.includes(url.pathname)) {
      event.respondWith(networkFirst(event, CACHE, SHELL_VERSION, url.pathname));
    } else {
      event.respondWith(offlineFallback(event, CACHE, OFFLINE_PAGE));
    }
    return;
  }
  if (url.pathname.startsWith('/app/') || PRECACHE_URLS.includes(url.pathname)) {
    event.respondWith(cacheFirst(request, CACHE, `/app/${SHELL_VERSION}/`));
  }
});

self.addEventListener('sync', (event) => {
  if (event.tag !== SYNC_TAG) return;
  // A rejected promise tells the browser to retry later with its own backoff.
  event.waitUntil(replay().then((summary) => {
    if (summary.retry) throw new Error('outbox: entries left for a later attempt');
  }));
});
