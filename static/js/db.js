// The phone's database: the one module that knows IndexedDB's name, version and stores.
// Used by the pages and by the service worker alike, so it touches no DOM.
//
// Stores
//   entries   every entry logged on this phone, with its state (see STATES) — the history
//   outbox    one record per entry waiting to be sent: {id, user_id, queued_at}
//             peek → send → delete: a record leaves only once the server answered for it
//   photos    downscaled photos {id, activity_id, user_id, blob, sha256, ..., state}
//   reference the sync API's reference data and the commune list, per user
//   meta      small values: device id, signed-in user and session, pull cursors, sync flags,
//             `generation` (moved by every sign-out) and `signout_pending`
//
// Only IndexedDB work happens inside a transaction (no fetch, no timers): a transaction
// that waits on anything else commits early and the next request on it throws.
// The outbox and photo states live in outbox.js, what has not been sent in unsent.js.

import { openDB } from '../vendor/idb/index.js';

export const DB_NAME = 'nhatky-coso';
const DB_VERSION = 1;

export const STATES = ['local', 'sending', 'sent', 'confirmed', 'returned', 'needs_attention'];
// States whose entry may be changed on the phone and sent again.
export const EDITABLE = new Set(['local', 'returned', 'needs_attention']);

let opening = null;

export function database() {
  opening ??= openDB(DB_NAME, DB_VERSION, {
    // Incremental: each version adds to the previous ones. Never delete a store that holds
    // user data (entries, outbox, photos): copy it forward instead.
    upgrade(db, oldVersion) {
      if (oldVersion < 1) {
        db.createObjectStore('entries', { keyPath: 'id' }).createIndex('user_id', 'user_id');
        db.createObjectStore('outbox', { keyPath: 'id' });
        db.createObjectStore('photos', { keyPath: 'id' }).createIndex('activity_id', 'activity_id');
        db.createObjectStore('reference', { keyPath: 'key' });
        db.createObjectStore('meta');
      }
    },
    // Another tab or a new service worker wants a newer version: let it, reopen on next use.
    blocking() {
      const current = opening;
      opening = null;
      current?.then((db) => db.close());
    },
    terminated() {
      opening = null;
    },
  });
  return opening;
}

// --- meta -------------------------------------------------------------------------------

export async function getMeta(key) {
  return (await database()).get('meta', key);
}

export async function setMeta(key, value) {
  await (await database()).put('meta', value, key);
}

export async function deviceId() {
  const db = await database();
  const tx = db.transaction('meta', 'readwrite');
  let id = await tx.store.get('device_id');
  if (!id) {
    id = crypto.randomUUID();
    await tx.store.put(id, 'device_id');
  }
  await tx.done;
  return id;
}

/** The signed-in user as /api/v1/session last said, or null after signing out. */
export async function sessionUser() {
  return (await getMeta('session')) ?? null;
}

// --- what the phone keeps for the signed-in user -------------------------------------------

/**
 * A sync run or a page that fetched something for the user before a sign-out on this phone
 * must not write it back after: such writes go through `writeForUser`, which checks in the
 * same transaction that no sign-out happened since the caller read `generation()`.
 */
export class SignedOutMeanwhile extends Error {
  constructor() {
    super('signed out on this phone meanwhile');
    this.name = 'SignedOutMeanwhile';
  }
}

export async function generation() {
  return (await getMeta('generation')) ?? 0;
}

export async function writeForUser(seen, stores, work) {
  const db = await database();
  const tx = db.transaction([...new Set([...stores, 'meta'])], 'readwrite');
  const current = (await tx.objectStore('meta').get('generation')) ?? 0;
  let result;
  if (current === seen) result = await work(tx);
  await tx.done;
  if (current !== seen) throw new SignedOutMeanwhile();
  return result;
}

/** Who /api/v1/session says is signed in, and which session: the phone adopts them. */
export function adoptSession(seen, user, sessionId) {
  return writeForUser(seen, ['meta'], async (tx) => {
    const meta = tx.objectStore('meta');
    await meta.put(user, 'session');
    await meta.put(sessionId ?? null, 'session_id');
    await meta.put(false, 'auth_required');
  });
}

export async function getReference(userId) {
  return (await database()).get('reference', `ref:${userId}`);
}

export function putReference(seen, userId, etag, data) {
  return writeForUser(seen, ['reference'], (tx) => tx.objectStore('reference')
    .put({ key: `ref:${userId}`, etag, data, at: Date.now() }));
}

export async function getPlaces(userId) {
  return (await (await database()).get('reference', `places:${userId}`))?.data ?? null;
}

export function putPlaces(seen, userId, data) {
  return writeForUser(seen, ['reference'], (tx) => tx.objectStore('reference')
    .put({ key: `places:${userId}`, data, at: Date.now() }));
}

export function setCursor(seen, userId, cursor) {
  return writeForUser(seen, ['meta'], (tx) => tx.objectStore('meta').put(cursor, `cursor:${userId}`));
}

// --- saving entries ---------------------------------------------------------------------

// A counter on top of the clock: two saves in one millisecond still queue in order, and a
// changed entry gets a stamp the sync engine can tell from the one it sent.
let lastStamp = 0;
function stamp() {
  lastStamp = Math.max(Date.now(), lastStamp + 1);
  return lastStamp;
}

/**
 * Save an entry with its new photos and queue it, in one transaction: either all of it is on
 * the phone or none of it is. Throws the browser's QuotaExceededError when storage is full.
 */
export async function saveEntry(entry, newPhotos = []) {
  const db = await database();
  const tx = db.transaction(['entries', 'photos', 'outbox'], 'readwrite');
  const now = new Date().toISOString();
  try {
    const previous = await tx.objectStore('entries').get(entry.id);
    const record = {
      ...previous,
      ...entry,
      state: 'local',
      errors: null,
      created_at: previous?.created_at ?? now,
      updated_at: now,
    };
    await tx.objectStore('entries').put(record);
    for (const photo of newPhotos) {
      await tx.objectStore('photos').put({ ...photo, state: 'pending', error: null });
    }
    await tx.objectStore('outbox').put({ id: entry.id, user_id: entry.user_id, queued_at: stamp() });
    await tx.done;
    return record;
  } catch (error) {
    // Never half an entry: abort whatever is left, and report the transaction's own error
    // (a full disk shows up there as QuotaExceededError, often only at commit).
    tx.done.catch(() => {}); // rejected too; reported here, not as an unhandled rejection
    try {
      tx.abort();
    } catch {
      // Already finished or aborted.
    }
    throw tx.error ?? error;
  }
}

export async function getEntry(id) {
  return (await database()).get('entries', id);
}

export async function listEntries(userId) {
  return (await database()).getAllFromIndex('entries', 'user_id', userId);
}

export async function photosOf(entryId) {
  return (await database()).getAllFromIndex('photos', 'activity_id', entryId);
}

/** Every photo of the user's entries, grouped by entry id (for the list). */
export async function photosByEntry(userId) {
  const grouped = new Map();
  for (const photo of await (await database()).getAll('photos')) {
    if (photo.user_id !== userId) continue;
    if (!grouped.has(photo.activity_id)) grouped.set(photo.activity_id, []);
    grouped.get(photo.activity_id).push(photo);
  }
  return grouped;
}
