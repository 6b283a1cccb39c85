// What has not fully reached the server (queued, refused, a photo still to go), and forgetting
// a user on this phone without losing any of it.

import { database } from './db.js';

async function unsentIn(tx, userId) {
  const mine = (record) => userId === null || record.user_id === userId;
  const ids = new Set();
  for (const item of await tx.objectStore('outbox').getAll()) if (mine(item)) ids.add(item.id);
  for (const entry of await tx.objectStore('entries').getAll()) {
    if (mine(entry) && entry.state === 'needs_attention') ids.add(entry.id);
  }
  for (const photo of await tx.objectStore('photos').getAll()) {
    if (mine(photo) && photo.state !== 'sent') ids.add(photo.activity_id);
  }
  return ids;
}

/** Entries with something not on the server; all users' by default. */
export async function unsentEntryIds(userId = null) {
  const db = await database();
  const tx = db.transaction(['entries', 'outbox', 'photos']);
  const ids = await unsentIn(tx, userId);
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

/**
 * The phone forgets the user at once, in one transaction: who is signed in, their lists, their
 * pull position and every entry of theirs the server holds in full. What has not reached the
 * server stays (the sign-out guard had the user download a copy first), to be sent when they
 * sign in again; a returned entry comes back with the next pull. `generation` moves, so a sync
 * run or a page that fetched something for this user before writes none of it back
 * (db.js writeForUser); `signout_pending` tells the sync engine and the service worker to end
 * the server's session (`sessionId`, else this user's) at the next connection.
 */
export async function forgetUser(userId, sessionId = null) {
  const db = await database();
  const tx = db.transaction(['entries', 'photos', 'outbox', 'reference', 'meta'], 'readwrite');
  if (userId != null) {
    const unsent = await unsentIn(tx, userId);
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
  await meta.put(((await meta.get('generation')) ?? 0) + 1, 'generation');
  await meta.put(null, 'session');
  await meta.put(null, 'session_id');
  await meta.put(false, 'auth_required');
  await meta.delete('last_sync');
  await meta.put({ user_id: userId, session_id: sessionId, at: Date.now() }, 'signout_pending');
  await tx.done;
}
