// "The phone's data changed": between the pages and the service worker (BroadcastChannel) and
// within this page (a DOM event). No DOM, no IndexedDB: usable everywhere.

const channel = typeof BroadcastChannel === 'function' ? new BroadcastChannel('nhatky-sync') : null;

/** Tell every open page (and this one) that the phone's data changed. */
export function announce(what, detail = {}) {
  channel?.postMessage({ what, ...detail });
  if (typeof dispatchEvent === 'function') {
    dispatchEvent(new CustomEvent('nhatky-sync', { detail: { what, ...detail } }));
  }
}

export function listen(callback) {
  channel?.addEventListener('message', (event) => callback(event.data));
  if (typeof addEventListener === 'function') {
    addEventListener('nhatky-sync', (event) => callback(event.detail));
  }
}
