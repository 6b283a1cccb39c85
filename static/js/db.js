// The phone's database: the one module that knows IndexedDB's name, version and stores.
// Used by the pages and by the service worker alike, so it touches no DOM.
//
// Stores
//   entries   every entry logged on this phone, with its state (see STATES) — the history
//   outbox    one record per entry waiting to be sent: {id, user_id, queued_at}
//             peek → send → delete: a record leaves only once the server answered for it
//   photos    downscaled photos {id, activity_id, user_id, blob, sha256, ..., state}
//   reference the sync API's reference data and the commune list, per user
//   meta      small values: device id, signed-in user, pull cursors, sync flags
//
// Only IndexedDB work happens inside a transaction (no fetch, no timers): a transaction
// that waits on anything else commits early and the next request on it throws.

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

// --- reference data ---------------------------------------------------------------------

export async function getReference(userId) {
  return (await database()).get('reference', `ref:${userId}`);
}

export async function putReference(userId, etag, data) {
  await (await database()).put('reference', { key: `ref:${userId}`, etag, data, at: Date.now() });
}

export async function getPlaces(userId) {
  return (await (await database()).get('reference', `places:${userId}`))?.data ?? null;
}

export async function putPlaces(userId, data) {
  await (await database()).put('reference', { key: `places:${userId}`, data, at: Date.now() });
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

// --- the outbox: peek, send, then delete ------------------------------------------------

/** The oldest queued entries of this user, with the stamp they were queued under. */
export async function peekOutbox(userId, limit) {
  const db = await database();
  const tx = db.transaction(['outbox', 'entries']);
  const queued = (await tx.objectStore('outbox').getAll())
    .filter((item) => item.user_id === userId)
    .sort((a, b) => a.queued_at - b.queued_at)
    .slice(0, limit);
  const batch = [];
  for (const item of queued) {
    const entry = await tx.objectStore('entries').get(item.id);
    if (entry) batch.push({ queued_at: item.queued_at, entry });
  }
  await tx.done;
  return batch;
}

async function updateEntries(ids, change) {
  const db = await database();
  const tx = db.transaction('entries', 'readwrite');
  for (const id of ids) {
    const entry = await tx.store.get(id);
    if (entry && change(entry) !== false) await tx.store.put(entry);
  }
  await tx.done;
}

export function markSending(ids) {
  return updateEntries(ids, (entry) => {
    if (entry.state !== 'local') return false;
    entry.state = 'sending';
    return true;
  });
}

/** After a failed attempt (or an interrupted one): back to "on this phone". */
export function releaseSending(ids) {
  return updateEntries(ids, (entry) => {
    if (entry.state !== 'sending') return false;
    entry.state = 'local';
    return true;
  });
}

export async function releaseAllSending() {
  const db = await database();
  const ids = (await db.getAll('entries')).filter((e) => e.state === 'sending').map((e) => e.id);
  await releaseSending(ids);
}

export function stateForServerStatus(status) {
  return { confirmed: 'confirmed', returned: 'returned' }[status] ?? 'sent';
}

const ACCEPTED = new Set(['created', 'updated', 'unchanged']);

/**
 * Apply the server's answer for each sent entry. An outbox record is deleted only if it is
 * still the one that was sent: an entry changed meanwhile stays queued, now carrying the
 * server's revision as its base.
 */
export async function applyPushResults(batch, results) {
  const byId = new Map(results.map((r) => [r.id, r]));
  const db = await database();
  const tx = db.transaction(['entries', 'outbox'], 'readwrite');
  const entries = tx.objectStore('entries');
  const outbox = tx.objectStore('outbox');
  const outcome = { accepted: 0, attention: 0, missing: 0 };
  for (const { entry: sent, queued_at: queuedAt } of batch) {
    const result = byId.get(sent.id);
    const entry = await entries.get(sent.id);
    if (!entry) continue;
    if (!result) {
      outcome.missing += 1;
      if (entry.state === 'sending') entry.state = 'local';
      await entries.put(entry);
      continue;
    }
    const queued = await outbox.get(sent.id);
    const unchangedSince = queued?.queued_at === queuedAt;
    if (unchangedSince) await outbox.delete(sent.id);
    if (result.revision != null) entry.revision = result.revision;
    if (ACCEPTED.has(result.status)) {
      outcome.accepted += 1;
      entry.server_status = result.server_status ?? 'submitted';
      entry.errors = null;
      entry.state = unchangedSince ? stateForServerStatus(entry.server_status) : 'local';
      entry.sent_at = new Date().toISOString();
    } else {
      outcome.attention += 1;
      entry.errors = result.errors ?? { _schema: [result.status] };
      entry.state = unchangedSince ? 'needs_attention' : 'local';
    }
    await entries.put(entry);
  }
  await tx.done;
  return outcome;
}

/** The whole batch was refused (a 4xx other than sign-in): each entry needs attention. */
export async function failBatch(batch, message) {
  const db = await database();
  const tx = db.transaction(['entries', 'outbox'], 'readwrite');
  for (const { entry: sent, queued_at: queuedAt } of batch) {
    const entry = await tx.objectStore('entries').get(sent.id);
    const queued = await tx.objectStore('outbox').get(sent.id);
    if (!entry || queued?.queued_at !== queuedAt) continue;
    await tx.objectStore('outbox').delete(sent.id);
    entry.state = 'needs_attention';
    entry.errors = { _schema: [message] };
    await tx.objectStore('entries').put(entry);
  }
  await tx.done;
}

// --- photos -----------------------------------------------------------------------------

/** Photos still to upload whose entry the server has accepted, oldest entry first. */
export async function photosToSend(userId) {
  const db = await database();
  const tx = db.transaction(['photos', 'entries']);
  const ready = [];
  for (const photo of await tx.objectStore('photos').getAll()) {
    if (photo.user_id !== userId || photo.state !== 'pending' || !photo.blob) continue;
    const entry = await tx.objectStore('entries').get(photo.activity_id);
    if (entry?.revision != null) ready.push(photo);
  }
  await tx.done;
  return ready.sort((a, b) => (a.added_at ?? 0) - (b.added_at ?? 0));
}

/** Uploaded: the server keeps the photo now, so the phone frees its bytes. */
export async function photoSent(photoId) {
  const db = await database();
  const tx = db.transaction('photos', 'readwrite');
  const photo = await tx.store.get(photoId);
  if (photo) {
    photo.state = 'sent';
    photo.blob = null;
    photo.error = null;
    await tx.store.put(photo);
  }
  await tx.done;
}

/** Count a refused upload; resolves to how many there have been. */
export async function photoFailed(photoId) {
  const db = await database();
  const tx = db.transaction('photos', 'readwrite');
  const photo = await tx.store.get(photoId);
  let failures = 0;
  if (photo) {
    failures = (photo.failures ?? 0) + 1;
    photo.failures = failures;
    await tx.store.put(photo);
  }
  await tx.done;
  return failures;
}

export async function photoProblem(photoId, message) {
  const db = await database();
  const tx = db.transaction('photos', 'readwrite');
  const photo = await tx.store.get(photoId);
  if (photo) {
    photo.state = 'needs_attention';
    photo.error = message;
    await tx.store.put(photo);
  }
  await tx.done;
}

// --- outcomes from sync/pull ------------------------------------------------------------

/** Review outcomes; applied idempotently (pull may repeat recent ones). */
export async function applyOutcomes(userId, outcomes) {
  if (!outcomes.length) return 0;
  const db = await database();
  const tx = db.transaction(['entries', 'outbox'], 'readwrite');
  let changed = 0;
  for (const outcome of outcomes) {
    const entry = await tx.objectStore('entries').get(outcome.id);
    if (!entry || entry.user_id !== userId) continue;
    if (entry.revision != null && outcome.revision < entry.revision) continue;
    entry.review_note = outcome.review_note ?? null;
    entry.reviewed_at = outcome.reviewed_at ?? null;
    entry.photos_missing = outcome.photos_missing;
    // A change waiting in the outbox, or a problem the user must fix, wins over the server.
    const queued = await tx.objectStore('outbox').get(outcome.id);
    if (!queued && entry.state !== 'needs_attention') {
      entry.revision = outcome.revision;
      entry.server_status = outcome.status;
      entry.state = stateForServerStatus(outcome.status);
    }
    await tx.objectStore('entries').put(entry);
    changed += 1;
  }
  await tx.done;
  return changed;
}

// --- signing out -------------------------------------------------------------------------

/**
 * The phone forgets the user at once: who is signed in, their lists, their pull position and
 * every entry of theirs that the server holds in full. What has not reached the server stays
 * (the sign-out guard made the user download a copy first), for them to send after signing
 * in again. `signout_pending` tells the sync engine and the service worker to end the
 * server's session at the next connection.
 */
export async function forgetUser(userId) {
  const unsent = userId == null ? new Set() : await unsentEntryIds(userId);
  const db = await database();
  const tx = db.transaction(['entries', 'photos', 'reference', 'meta'], 'readwrite');
  if (userId != null) {
    for (const entry of await tx.objectStore('entries').index('user_id').getAll(userId)) {
      if (!unsent.has(entry.id)) await tx.objectStore('entries').delete(entry.id);
    }
    for (const photo of await tx.objectStore('photos').getAll()) {
      if (photo.user_id === userId && !unsent.has(photo.activity_id)) {
        await tx.objectStore('photos').delete(photo.id);
      }
    }
    await tx.objectStore('reference').delete(`ref:${userId}`);
    await tx.objectStore('reference').delete(`places:${userId}`);
    await tx.objectStore('meta').delete(`cursor:${userId}`);
  }
  const meta = tx.objectStore('meta');
  await meta.put(null, 'session');
  await meta.put(false, 'auth_required');
  await meta.delete('last_sync');
  await meta.put({ user_id: userId, at: Date.now() }, 'signout_pending');
  await tx.done;
}

// --- what has not reached the server ----------------------------------------------------

/** Entries with something not on the server (queued, refused, a photo left); all users by default. */
export async function unsentEntryIds(userId = null) {
  const mine = (record) => userId === null || record.user_id === userId;
  const db = await database();
  const tx = db.transaction(['entries', 'outbox', 'photos']);
  const ids = new Set();
  for (const item of await tx.objectStore('outbox').getAll()) if (mine(item)) ids.add(item.id);
  for (const entry of await tx.objectStore('entries').getAll()) {
    if (mine(entry) && entry.state === 'needs_attention') ids.add(entry.id);
  }
  for (const photo of await tx.objectStore('photos').getAll()) {
    if (mine(photo) && photo.state !== 'sent') ids.add(photo.activity_id);
  }
  await tx.done;
  return ids;
}

/** What the export file holds: the user's unsent entries and their photos (as Blobs). */
export async function unsentForExport(userId = null) {
  const ids = await unsentEntryIds(userId);
  const db = await database();
  const result = [];
  for (const id of ids) {
    const entry = await db.get('entries', id);
    if (entry) result.push({ entry, photos: await db.getAllFromIndex('photos', 'activity_id', id) });
  }
  return result;
}
