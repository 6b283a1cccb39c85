// The outbox and the photos' sending states, and what the server says back (push results,
// review outcomes). Peek, send, then delete: a record leaves the outbox only once the server
// answered for it (STYLE.md #15). The stores themselves are db.js's.

import { database, writeForUser } from './db.js';

// --- the outbox ------------------------------------------------------------------------

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

/** A returned entry the phone no longer holds (signed out since, another phone): rebuilt from
 *  the server's copy, its photos as already sent, so it can be fixed and sent again. */
function rebuilt(userId, outcome) {
  const { photo_ids: photoIds = [], ...content } = outcome.entry;
  const now = new Date().toISOString();
  const entry = {
    ...content,
    id: outcome.id,
    user_id: userId,
    program_id: content.program_id ?? null,
    errors: null,
    created_at: now,
    updated_at: now,
  };
  const photos = photoIds.map((id, index) => ({
    id, activity_id: outcome.id, user_id: userId, blob: null, state: 'sent', error: null,
    name: null, added_at: index,
  }));
  return { entry, photos };
}

/**
 * Review outcomes, applied idempotently (pull may repeat recent ones); nothing is written if
 * the user signed out on this phone since `seen` (db.js writeForUser).
 */
export function applyOutcomes(seen, userId, outcomes) {
  if (!outcomes.length) return Promise.resolve(0);
  return writeForUser(seen, ['entries', 'outbox', 'photos'], async (tx) => {
    let changed = 0;
    for (const outcome of outcomes) {
      let entry = await tx.objectStore('entries').get(outcome.id);
      if (!entry && outcome.status === 'returned' && outcome.entry) {
        const { entry: fresh, photos } = rebuilt(userId, outcome);
        for (const photo of photos) await tx.objectStore('photos').put(photo);
        entry = fresh;
      }
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
    return changed;
  });
}
