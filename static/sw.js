// The service worker: only event handlers; the helpers live in static/js/sw-cache.js and the
// sync engine in static/js/sync.js. webapp/field/routes.py serves this file at /sw.js (scope
// "/") behind a generated preamble that defines SHELL_VERSION, PRECACHE_URLS, SHELL_PAGES,
// OFFLINE_PAGE and SIGN_IN_PAGE, so every shell version is a byte-different worker and updates
// are noticed.
/* global SHELL_VERSION, PRECACHE_URLS, SHELL_PAGES, OFFLINE_PAGE, SIGN_IN_PAGE */

import { cacheFirst, dropOtherCaches, precache } from '/static/js/sw-cache.js';
import { navigate } from '/static/js/sw-navigate.js';
import { replay, SYNC_TAG } from '/static/js/sync.js';

const CACHE = `shell-${SHELL_VERSION}`;
const SHELL = {
  cache: CACHE,
  version: SHELL_VERSION,
  pages: SHELL_PAGES,
  signIn: SIGN_IN_PAGE,
  offline: OFFLINE_PAGE,
};

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
    event.respondWith(navigate(event, url.pathname, SHELL));
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
