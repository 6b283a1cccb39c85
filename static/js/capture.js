// The capture screen: one hand, 360 px, no signal. Save writes to IndexedDB and says so at
// once; sending happens later, on its own (sync.js).

import { requestBackgroundSync, syncNow } from './autosync.js';
import * as store from './db.js';
import { showDay, growAll, markNewEntryTab } from './capture-ui.js';
import { lang, t, todayIso } from './i18n.js';
import { askPersistentStorage, notice, startPage, stillLoading, user } from './page.js';
import { PhotoPicker } from './photo-picker.js';
import { Roster } from './roster.js';
import { announce } from './sync.js';

const $ = (id) => document.getElementById(id);
const form = $('capture-form');
const LIMITS = { summary: 500, notes: 4000, village: 120, people_reached: 100000, households_reached: 20000 };
const TEXT_FIELDS = ['village', 'summary', 'notes'];

const state = {
  reference: null,
  places: null,
  editing: null, // the stored entry being changed, or null for a new one
  gps: null,
  gpsRequest: 0,
  communeTouched: false,
};
const roster = new Roster();
const photos = new PhotoPicker();

const nameOf = (item) => (lang === 'en' && item.name_en ? item.name_en : item.name_vi);

function option(value, label) {
  const element = document.createElement('option');
  element.value = String(value);
  element.textContent = label;
  return element;
}

/** Replace a select's options (after its fixed first ones), keeping the choice if still there. */
function fillSelect(select, items, keep) {
  const fixed = Array.from(select.options).filter((o) => o.dataset.fixed === 'yes');
  const previous = select.value;
  select.replaceChildren(...fixed, ...items.map(([value, label]) => option(value, label)));
  const wanted = keep ?? previous;
  if (Array.from(select.options).some((o) => o.value === String(wanted))) select.value = String(wanted);
}

function markFixedOptions() {
  for (const select of form.querySelectorAll('select')) {
    for (const o of select.options) o.dataset.fixed = 'yes';
  }
}

// --- units ------------------------------------------------------------------------------

function defaultUnit() {
  const me = user();
  const member = state.reference.members.find((m) => m.id === me.member_id);
  const ids = new Set(state.reference.units.map((u) => u.id));
  if (member && ids.has(member.unit_id)) return member.unit_id;
  if (ids.has(me.scope_unit_id)) return me.scope_unit_id;
  return state.reference.units[0]?.id ?? '';
}

const showRoster = () => roster.show(Number($('unit_id').value));

// --- place ------------------------------------------------------------------------------

function renderCommunes() {
  const communes = state.places?.communes ?? [];
  fillSelect($('division_code'), communes.map((c) => [c.division_code, c.name]));
  if (!state.communeTouched) defaultCommune();
}

function defaultCommune() {
  const code = state.places?.unit_commune?.[$('unit_id').value];
  if (code) $('division_code').value = code;
}

function showGps(message) {
  $('gps-status').textContent = message;
  $('gps-clear').hidden = !state.gps;
}

function recordPosition() {
  if (!navigator.geolocation) {
    showGps(t('gps_failed'));
    return;
  }
  const request = ++state.gpsRequest; // a late answer must not land on the next entry
  showGps(t('gps_working'));
  navigator.geolocation.getCurrentPosition(
    (position) => {
      if (request !== state.gpsRequest) return;
      const { latitude, longitude, accuracy } = position.coords;
      state.gps = {
        lat: Number(latitude.toFixed(6)),
        lon: Number(longitude.toFixed(6)),
        accuracy_m: Math.round(accuracy * 10) / 10,
      };
      showGps(t('gps_done', { m: Math.round(accuracy) }));
    },
    (error) => {
      if (request !== state.gpsRequest) return;
      showGps(t(error.code === error.PERMISSION_DENIED ? 'gps_denied' : 'gps_failed'));
    },
    { enableHighAccuracy: true, timeout: 30_000, maximumAge: 60_000 },
  );
}

function clearPosition() {
  state.gpsRequest += 1;
  state.gps = null;
  showGps(t('gps_none'));
}

// --- validation -------------------------------------------------------------------------

function wholeNumber(id, errors) {
  const raw = $(id).value.trim();
  const value = raw === '' ? 0 : Number(raw);
  if (!Number.isInteger(value) || value < 0) errors.push([id, t('whole_number')]);
  else if (value > LIMITS[id]) errors.push([id, t('too_large', { n: LIMITS[id] })]);
  return value;
}

function validate() {
  const errors = [];
  if (!$('kind_id').value) errors.push(['kind_id', t('required.kind_id')]);
  const day = $('occurred_on').value;
  if (!day) errors.push(['occurred_on', t('required.occurred_on')]);
  else if (day > todayIso()) errors.push(['occurred_on', t('future.occurred_on')]);
  if (!$('unit_id').value) errors.push(['unit_id', t('required.unit_id')]);
  wholeNumber('people_reached', errors);
  wholeNumber('households_reached', errors);
  if (!$('summary').value.trim()) errors.push(['summary', t('required.summary')]);
  for (const id of TEXT_FIELDS) {
    if ($(id).value.trim().length > LIMITS[id]) errors.push([id, t('too_long', { n: LIMITS[id] })]);
  }
  return errors;
}

function clearErrors() {
  for (const message of form.querySelectorAll('.field-error')) {
    message.hidden = true;
    message.textContent = '';
  }
  for (const control of form.querySelectorAll('[aria-invalid]')) control.removeAttribute('aria-invalid');
  $('error-summary').hidden = true;
}

function showErrors(errors) {
  clearErrors();
  const links = [];
  for (const [field, message] of errors) {
    const text = $(`${field}-error`);
    if (text) {
      text.textContent = message;
      text.hidden = false;
    }
    $(field)?.setAttribute('aria-invalid', 'true');
    const item = document.createElement('li');
    const link = document.createElement('a');
    link.href = `#${field}`;
    link.textContent = `${t(`field.${field}`)}: ${message}`;
    item.append(link);
    links.push(item);
  }
  const summary = $('error-summary');
  summary.querySelector('ul').replaceChildren(...links);
  summary.hidden = false;
  summary.focus();
}

// --- saving -----------------------------------------------------------------------------

function say(message, status) {
  const line = $('save-status');
  line.textContent = message;
  line.dataset.state = status;
}

function isQuotaError(error) {
  return error?.name === 'QuotaExceededError' || error?.inner?.name === 'QuotaExceededError';
}

function buildEntry() {
  const me = user();
  const kind = state.reference.kinds.find((k) => String(k.id) === $('kind_id').value);
  const unit = state.reference.units.find((u) => String(u.id) === $('unit_id').value);
  const text = (id) => $(id).value.trim() || null;
  const gps = state.gps ?? { lat: null, lon: null, accuracy_m: null };
  return {
    id: state.editing?.id ?? crypto.randomUUID(),
    user_id: me.id,
    kind_id: Number($('kind_id').value),
    program_id: $('program_id').value ? Number($('program_id').value) : null,
    occurred_on: $('occurred_on').value,
    unit_id: Number($('unit_id').value),
    participant_ids: roster.ids(),
    division_code: $('division_code').value || null,
    village: text('village'),
    ...gps,
    people_reached: Number($('people_reached').value || 0),
    households_reached: Number($('households_reached').value || 0),
    summary: $('summary').value.trim(),
    notes: text('notes'),
    captured_at: state.editing?.captured_at ?? new Date().toISOString(),
    // What the list shows even if the reference data changes later.
    labels: { kind_vi: kind?.name_vi, kind_en: kind?.name_en, unit: unit?.name },
  };
}

async function save(event) {
  event.preventDefault();
  const button = $('save-button');
  if (button.disabled) return;
  // Said at once, before anything is awaited: whoever watches this line (a person, a test)
  // then reads this Save's own outcome, never the one left from the Save before.
  say(t('saving'), 'saving');
  if (form.dataset.ready !== 'yes') {
    say(t(user() ? 'no_reference' : 'signed_out_offline'), 'error');
    return;
  }
  const errors = validate();
  if (errors.length) {
    say('', 'invalid');
    showErrors(errors);
    return;
  }
  clearErrors();
  button.disabled = true;
  try {
    await photos.ready(); // photos chosen a moment before Save are part of this entry
    const entry = buildEntry();
    try {
      await store.saveEntry(entry, photos.records(entry));
    } catch (error) {
      // Nothing of this entry was written (one transaction); what was saved before stays.
      if (isQuotaError(error)) say(t('storage_full'), 'error');
      else say(t('save_failed', { reason: error.message }), 'error');
      return;
    }
    const skipped = photos.skipped.slice();
    if (state.editing) say(t('saved_edit'), 'saved');
    else if (skipped.length) say(t('saved_skipped', { names: skipped.join(', ') }), 'saved');
    else say(t('saved'), 'saved');
    resetForm();
    announce('changed');
    askPersistentStorage();
    requestBackgroundSync();
    syncNow();
  } finally {
    button.disabled = false;
  }
}

function resetForm() {
  // Keep what the next entry of the day most likely shares: date, unit, commune, village.
  state.editing = null;
  photos.clear();
  clearPosition();
  $('kind_id').value = '';
  $('program_id').value = '';
  $('people_reached').value = '0';
  $('households_reached').value = '0';
  $('summary').value = '';
  $('notes').value = '';
  $('form-title').textContent = $('form-title').dataset.new;
  markNewEntryTab(true);
  growAll(form);
  $('edit-reason').hidden = true;
  if (location.search) history.replaceState(null, '', location.pathname);
  roster.reset();
  showRoster();
}

// --- editing a stored entry -------------------------------------------------------------

function reasonText(entry) {
  if (entry.state === 'returned' && entry.review_note) return t('reason', { reason: entry.review_note });
  if (entry.errors) {
    return Object.entries(entry.errors)
      .map(([field, messages]) => `${t(`field.${field}`)}: ${messages.join(' ')}`).join(' ');
  }
  return '';
}

async function startEditing(id) {
  const entry = await store.getEntry(id);
  if (!entry || entry.user_id !== user()?.id) {
    notice(t('entry_missing'));
    return;
  }
  if (!store.EDITABLE.has(entry.state)) {
    notice(t('not_editable'));
    return;
  }
  state.editing = entry;
  const kept = (await store.photosOf(id)).filter((p) => p.state !== 'needs_attention').length;
  $('form-title').textContent = $('form-title').dataset.edit;
  markNewEntryTab(false);
  const reason = reasonText(entry);
  $('edit-reason').textContent = reason;
  $('edit-reason').hidden = !reason;
  $('kind_id').value = String(entry.kind_id); // stays empty if the kind is no longer offered
  $('program_id').value = entry.program_id ? String(entry.program_id) : '';
  $('occurred_on').value = entry.occurred_on;
  showDay($('occurred_on'), $('occurred_on-text'));
  $('unit_id').value = String(entry.unit_id);
  roster.select(entry.participant_ids);
  showRoster();
  state.communeTouched = true;
  $('division_code').value = entry.division_code ?? '';
  for (const id of [...TEXT_FIELDS, 'people_reached', 'households_reached']) $(id).value = entry[id] ?? '';
  state.gps = entry.lat == null ? null : { lat: entry.lat, lon: entry.lon, accuracy_m: entry.accuracy_m };
  showGps(state.gps ? t('gps_done', { m: Math.round(entry.accuracy_m ?? 0) }) : t('gps_none'));
  photos.clear(kept);
  growAll(form);
}

// --- start ------------------------------------------------------------------------------

/** The form cannot be used yet: say why, or only that it is loading on a first visit. */
function notReady(state, message) {
  const loading = stillLoading();
  notice(loading ? t('loading') : t(message), { tone: loading ? 'neutral' : 'warning' });
  form.dataset.ready = loading ? 'loading' : state;
  return false;
}

async function loadLists() {
  const me = user();
  if (!me) return notReady('no-user', 'signed_out_offline');
  const reference = await store.getReference(me.id);
  if (!reference) return notReady('no-reference', 'no_reference');
  notice(null);
  const first = !state.reference;
  state.reference = reference.data;
  state.places = await store.getPlaces(me.id);
  fillSelect($('kind_id'), state.reference.kinds.map((k) => [k.id, nameOf(k)]));
  fillSelect($('program_id'), state.reference.programs.map((p) => [p.id, nameOf(p)]));
  fillSelect($('unit_id'), state.reference.units.map((u) => [u.id, u.name]), first ? defaultUnit() : undefined);
  renderCommunes();
  roster.setReference(state.reference, me);
  if (first) roster.selectMe();
  showRoster();
  form.dataset.ready = 'yes';
  return true;
}

markFixedOptions();
$('form-title').dataset.new = $('form-title').textContent;
$('occurred_on').value = todayIso();
$('occurred_on').max = todayIso();
$('occurred_on').min = '2000-01-01';
showDay($('occurred_on'), $('occurred_on-text'));
for (const type of ['input', 'change']) {
  $('occurred_on').addEventListener(type, () => showDay($('occurred_on'), $('occurred_on-text')));
}
growAll(form, { follow: true });
form.addEventListener('submit', save);
$('unit_id').addEventListener('change', () => {
  showRoster();
  if (!state.communeTouched) defaultCommune();
});
$('division_code').addEventListener('change', () => { state.communeTouched = true; });
$('gps-button').addEventListener('click', recordPosition);
$('gps-clear').addEventListener('click', clearPosition);

startPage(async (reason) => {
  // The lists change on these; a form still waiting for them also looks again after the
  // session check and each sync (it may have been loading, or the sync failed).
  const waiting = form.dataset.ready !== 'yes';
  if (!['start', 'reference', 'user'].includes(reason) && !waiting) return;
  const ready = await loadLists();
  const editId = new URLSearchParams(location.search).get('edit');
  if (ready && editId && !state.editing) await startEditing(editId);
});
