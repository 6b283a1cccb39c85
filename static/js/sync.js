// The sync engine: send what waits in the outbox, then the photos, then fetch review outcomes
// and reference data. It runs in the page and in the service worker (Background Sync), never
// both at once (a Web Lock), and touches no DOM. Every step is safe to repeat: the server
// knows each entry and photo by the UUID the phone gave it.

import * as api from './api.js';
import * as store from './db.js';
import { announce } from './events.js';
import * as outbox from './outbox.js';
import { finishSignOut } from './signout.js';

export { announce, listen } from './events.js';

export const BATCH_SIZE = 50; // the server takes 100 and 2 MiB; 50 entries are ~100 KB
export const SYNC_TAG = 'outbox';
const LOCK = 'nhatky-outbox';
// 403 not the author, 409 another photo under this id, 413 too large, 415 not a photo type:
// sending the same bytes again cannot help. Other 4xx get a few tries before giving up.
const FINAL_PHOTO_REFUSALS = new Set([403, 409, 413, 415]);
const PHOTO_CLIENT_ATTEMPTS = 3;

/** What the server stores, built from the phone's record. */
export function payload(entry, photoCount) {
  return {
    id: entry.id,
    base_revision: entry.revision ?? null,
    unit_id: entry.unit_id,
    kind_id: entry.kind_id,
    program_id: entry.program_id ?? null,
    occurred_on: entry.occurred_on,
    division_code: entry.division_code ?? null,
    village: entry.village ?? null,
    lat: entry.lat ?? null,
    lon: entry.lon ?? null,
    accuracy_m: entry.accuracy_m ?? null,
    summary: entry.summary,
    notes: entry.notes ?? null,
    people_reached: entry.people_reached ?? 0,
    households_reached: entry.households_reached ?? 0,
    participant_ids: entry.participant_ids ?? [],
    photos_expected: photoCount,
    captured_at: entry.captured_at ?? null,
  };
}

class Run {
  constructor(generation) {
    this.summary = { accepted: 0, attention: 0, photos: 0, retry: false, auth: false, error: null };
    this.token = null;
    this.user = null;
    // What the run fetches for the user is written only if nobody signed out meanwhile.
    this.generation = generation;
  }

  retryLater(error) {
    this.summary.retry = true;
    this.summary.error = error.message;
  }
}

/**
 * One replay. Resolves to a summary; `retry: true` means something is left that a later
 * attempt may send (network or server trouble), `auth: true` that the user must sign in.
 */
export async function replay() {
  if (!navigator.locks) return replayHoldingLock();
  return navigator.locks.request(LOCK, replayHoldingLock);
}

async function replayHoldingLock() {
  const run = new Run(await store.generation());
  // Nothing else sends while we hold the lock, so a "sending" mark is left over from a run
  // that was cut short (page closed mid-request): those entries are simply sent again.
  await outbox.releaseAllSending();
  try {
    // A sign-out made offline ends on the server before anything is sent with its cookie.
    if (!(await finishSignOut())) throw new api.ApiError('network', 0, 'sign-out not finished yet');
    await startSession(run);
    // First run on this phone: the form waits for these lists, the outbox is empty anyway.
    if (!(await store.getReference(run.user.id))) await refreshReference(run);
    await sendEntries(run);
    await sendPhotos(run);
    await pullOutcomes(run);
    await refreshReference(run);
  } catch (error) {
    if (error instanceof store.SignedOutMeanwhile) {
      run.summary.auth = true; // the user signed out on the phone: this run is over
      announce('synced', { summary: run.summary });
      return run.summary;
    }
    if (!(error instanceof api.ApiError)) throw error;
    if (error.kind === 'auth') {
      run.summary.auth = true;
      await store.setMeta('auth_required', true);
    } else {
      run.retryLater(error);
    }
  }
  await store.setMeta('last_sync', { at: Date.now(), ...run.summary });
  announce('synced', { summary: run.summary });
  return run.summary;
}

async function startSession(run) {
  const session = await api.getSession();
  run.user = session.user;
  run.token = session.csrf_token;
  const previous = await store.sessionUser();
  await store.adoptSession(run.generation, session.user, session.session_id);
  if (previous?.id !== session.user.id) announce('user');
}

async function freshToken(run) {
  run.token = (await api.getSession()).csrf_token;
}

/** Send once; a 400 is most likely a stale CSRF token, so fetch a new one and try once more. */
async function withToken(run, send) {
  try {
    return await send(run.token);
  } catch (error) {
    if (!(error instanceof api.ApiError) || error.status !== 400) throw error;
    await freshToken(run);
    return send(run.token);
  }
}

async function sendEntries(run) {
  const userId = run.user.id;
  const deviceId = await store.deviceId();
  const attempted = new Set();
  let size = BATCH_SIZE;
  for (;;) {
    const batch = (await outbox.peekOutbox(userId, size)).filter((b) => !attempted.has(b.entry.id));
    if (!batch.length) return;
    const ids = batch.map((b) => b.entry.id);
    const items = [];
    for (const { entry } of batch) {
      const photos = (await store.photosOf(entry.id)).filter((p) => p.state !== 'needs_attention');
      items.push(payload(entry, photos.length));
    }
    await outbox.markSending(ids);
    announce('changed');
    let body;
    try {
      body = await withToken(run, (token) => api.push(token, deviceId, items));
    } catch (error) {
      await outbox.releaseSending(ids);
      announce('changed');
      if (error instanceof api.ApiError && error.status === 413 && size > 1) {
        size = Math.max(1, Math.floor(size / 2)); // too many bytes at once: smaller batches
        continue;
      }
      if (error instanceof api.ApiError && error.kind === 'client') {
        await outbox.failBatch(batch, error.message);
        run.summary.attention += batch.length;
        announce('changed');
        ids.forEach((id) => attempted.add(id));
        continue;
      }
      throw error;
    }
    const outcome = await outbox.applyPushResults(batch, body.results ?? []);
    run.summary.accepted += outcome.accepted;
    run.summary.attention += outcome.attention;
    ids.forEach((id) => attempted.add(id));
    announce('changed');
    if (outcome.missing) run.retryLater(new Error('some results were missing'));
  }
}

/** One by one, each on its own: one photo's trouble never holds back the others. */
async function sendPhotos(run) {
  let retryError = null;
  for (const photo of await outbox.photosToSend(run.user.id)) {
    try {
      await withToken(run, (token) => api.putPhoto(token, photo));
      await outbox.photoSent(photo.id);
      run.summary.photos += 1;
    } catch (error) {
      if (!(error instanceof api.ApiError) || error.kind === 'auth') throw error;
      if (error.retryable || error.status === 404) {
        retryError = error; // no answer, or the entry is not there yet: keep the photo
      } else if (FINAL_PHOTO_REFUSALS.has(error.status)
        || (await outbox.photoFailed(photo.id)) >= PHOTO_CLIENT_ATTEMPTS) {
        await outbox.photoProblem(photo.id, error.message);
      } else {
        retryError = error; // 422 "damaged on the way, send it again": a few more tries
      }
      if (error.kind === 'network') break; // no connection: the rest would fail the same way
    }
    announce('changed');
  }
  if (retryError) run.retryLater(retryError);
}

async function pullOutcomes(run) {
  const key = `cursor:${run.user.id}`;
  let cursor = await store.getMeta(key);
  let changed = 0;
  for (let page = 0; page < 100; page += 1) {
    const body = await api.pull(cursor);
    changed += await outbox.applyOutcomes(run.generation, run.user.id, body.outcomes);
    cursor = body.cursor;
    await store.setCursor(run.generation, run.user.id, cursor);
    run.referenceVersion = body.reference_version;
    if (!body.more) break;
  }
  if (changed) announce('changed');
}

async function refreshReference(run) {
  const userId = run.user.id;
  const current = await store.getReference(userId);
  if (current && current.etag === run.referenceVersion && (await store.getPlaces(userId))) return;
  const fresh = await api.reference(current?.etag);
  if (fresh) await store.putReference(run.generation, userId, fresh.version, fresh);
  await store.putPlaces(run.generation, userId, await api.places());
  announce('reference');
}
