// "My entries": everything logged on this phone, newest first, by month, each with its state
// (DESIGN.md §5). Returned and refused entries link back to the form to be fixed and resent.

import * as store from './db.js';
import { formatDate, formatMonth, formatNumber, lang, t } from './i18n.js';
import { notice, startPage, stillLoading, user } from './page.js';

const root = document.getElementById('entries');
const empty = document.getElementById('entries-empty');

function element(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text != null) node.textContent = text;
  return node;
}

function labelsFor(entry, reference) {
  const kind = reference?.kinds.find((k) => k.id === entry.kind_id);
  const unit = reference?.units.find((u) => u.id === entry.unit_id);
  const saved = entry.labels ?? {};
  const kindName = kind
    ? (lang === 'en' && kind.name_en) || kind.name_vi
    : (lang === 'en' && saved.kind_en) || saved.kind_vi || '';
  return { kind: kindName, unit: unit?.name ?? saved.unit ?? '' };
}

/** The state to show: a photo the server refused makes an accepted entry need attention too. */
function shownState(entry, photos) {
  const refused = photos.find((p) => p.state === 'needs_attention');
  if (refused && entry.state !== 'local' && entry.state !== 'sending') {
    return { state: 'needs_attention', photoProblem: refused.error };
  }
  return { state: entry.state, photoProblem: null };
}

function problems(entry) {
  return Object.entries(entry.errors ?? {})
    .map(([field, messages]) => `${t(`field.${field}`)}: ${messages.join(' ')}`);
}

function renderEntry(entry, photos, reference) {
  const { state, photoProblem } = shownState(entry, photos);
  const labels = labelsFor(entry, reference);
  const item = element('li', 'entry phone-entry');
  item.dataset.id = entry.id;
  item.dataset.state = state;
  const head = element('div', 'entry-head');
  head.append(element('strong', null, labels.kind), element('span', `badge state-${state}`, t(`state.${state}`)));
  const main = element('div', 'entry-main');
  main.append(head);
  const where = [formatDate(entry.occurred_on), labels.unit, entry.village].filter(Boolean).join(' · ');
  main.append(element('span', 'muted', where));
  main.append(element('span', 'entry-summary', entry.summary));
  const facts = [t('participants_n', { n: entry.participant_ids.length })];
  if (entry.people_reached || entry.households_reached) {
    facts.push(t('people_households', {
      people: formatNumber(entry.people_reached), households: formatNumber(entry.households_reached),
    }));
  }
  const usable = photos.filter((p) => p.state !== 'needs_attention');
  if (usable.length) {
    const sent = usable.filter((p) => p.state === 'sent').length;
    const accepted = entry.revision != null; // photos go up only after their entry
    facts.push(sent === usable.length || !accepted
      ? t('photo_count', { n: usable.length })
      : t('photos_progress', { sent, total: usable.length }));
  }
  main.append(element('span', 'muted small', facts.join(' · ')));
  const reasons = [];
  if (state === 'returned' && entry.review_note) reasons.push(t('reason', { reason: entry.review_note }));
  if (entry.state === 'needs_attention') reasons.push(...problems(entry));
  if (photoProblem) reasons.push(t('photo_problem', { reason: photoProblem }));
  for (const reason of reasons) main.append(element('p', 'reason', reason));
  if (store.EDITABLE.has(entry.state)) {
    const link = element('a', 'button', t(entry.state === 'local' ? 'edit' : 'edit_resend'));
    link.href = `/capture?edit=${encodeURIComponent(entry.id)}`;
    main.append(link);
  }
  item.append(main);
  return item;
}

async function render() {
  const me = user();
  if (!me) {
    const loading = stillLoading();
    notice(t(loading ? 'loading' : 'signed_out_offline'), { tone: loading ? 'neutral' : 'warning' });
    root.replaceChildren();
    root.dataset.ready = loading ? 'loading' : 'no-user';
    return;
  }
  notice(null);
  const [entries, photos, reference] = await Promise.all([
    store.listEntries(me.id), store.photosByEntry(me.id), store.getReference(me.id),
  ]);
  entries.sort((a, b) => b.occurred_on.localeCompare(a.occurred_on)
    || (b.created_at ?? '').localeCompare(a.created_at ?? ''));
  const months = new Map();
  for (const entry of entries) {
    const month = entry.occurred_on.slice(0, 7);
    if (!months.has(month)) months.set(month, []);
    months.get(month).push(entry);
  }
  const sections = [];
  for (const [month, inMonth] of months) {
    const section = element('section', 'month');
    const heading = element('h2', null, formatMonth(month));
    heading.id = `month-${month}`;
    section.setAttribute('aria-labelledby', heading.id);
    const list = element('ul', 'entries');
    list.append(...inMonth.map((e) => renderEntry(e, photos.get(e.id) ?? [], reference?.data)));
    section.append(heading, list);
    sections.push(section);
  }
  // The empty-state text lives inside the list's reserved space, so nothing below it moves.
  empty.hidden = entries.length > 0;
  root.replaceChildren(...(sections.length ? sections : [empty]));
  root.dataset.ready = 'yes';
  root.dataset.count = String(entries.length);
}

startPage(render);
