// "Who took part": the roster of the chosen unit and the units under it (the server accepts
// exactly those), with diacritic-insensitive search. People ticked stay visible whatever the
// search says, so a tick is never hidden.

import { fold, matches } from './fold.js';
import { t } from './i18n.js';

const $ = (id) => document.getElementById(id);

export class Roster {
  constructor() {
    this.list = $('participant-list');
    this.search = $('participant-search');
    this.selected = new Set();
    this.members = [];
    this.units = [];
    this.me = null;
    this.search.addEventListener('input', () => this.filter());
    this.list.addEventListener('change', (event) => {
      const id = Number(event.target.value);
      if (event.target.checked) this.selected.add(id);
      else this.selected.delete(id);
      this.filter();
    });
  }

  /** Reference data changed (or arrived): keep the ticks that still make sense. */
  setReference(reference, me) {
    this.members = reference.members;
    this.units = reference.units;
    this.me = me;
  }

  subtree(unitId) {
    const children = new Map();
    for (const unit of this.units) {
      if (!children.has(unit.parent_id)) children.set(unit.parent_id, []);
      children.get(unit.parent_id).push(unit.id);
    }
    const found = new Set([unitId]);
    const stack = [unitId];
    while (stack.length) {
      for (const child of children.get(stack.pop()) ?? []) {
        found.add(child);
        stack.push(child);
      }
    }
    return found;
  }

  /** The user alone, as on a new entry (dropped by show() if not on this unit's roster). */
  selectMe() {
    this.selected.clear();
    if (this.me?.member_id) this.selected.add(this.me.member_id);
  }

  select(ids) {
    this.selected = new Set(ids);
  }

  reset() {
    this.search.value = '';
    this.selectMe();
  }

  show(unitId) {
    const inUnit = unitId ? this.subtree(unitId) : new Set();
    const roster = this.members.filter((m) => inUnit.has(m.unit_id));
    const allowed = new Set(roster.map((m) => m.id));
    for (const id of [...this.selected]) if (!allowed.has(id)) this.selected.delete(id);
    // Ticked people first, so they are in view; not re-sorted on each tick (nothing jumps).
    roster.sort((a, b) => Number(this.selected.has(b.id)) - Number(this.selected.has(a.id)));
    this.list.replaceChildren(...roster.map((member) => this.row(member)));
    this.filter();
  }

  row(member) {
    const item = document.createElement('li');
    item.dataset.folded = fold(`${member.full_name} ${member.position ?? ''}`);
    const label = document.createElement('label');
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = String(member.id);
    box.checked = this.selected.has(member.id);
    const name = document.createElement('span');
    const mine = member.id === this.me?.member_id;
    name.textContent = mine ? `${member.full_name} ${t('you')}` : member.full_name;
    label.append(box, name);
    if (member.position) {
      const position = document.createElement('span');
      position.className = 'muted small';
      position.textContent = member.position;
      label.append(position);
    }
    item.append(label);
    return item;
  }

  filter() {
    const query = this.search.value;
    let shown = 0;
    for (const item of this.list.children) {
      const ticked = item.querySelector('input').checked;
      item.hidden = !(ticked || matches(item.dataset.folded, query));
      if (!item.hidden) shown += 1;
    }
    const none = $('participant-none');
    none.hidden = shown > 0 || !query.trim();
    none.textContent = none.hidden ? '' : t('no_match', { q: query.trim() });
    $('participant-count').textContent = t('selected_count', { n: this.selected.size });
  }

  ids() {
    return [...this.selected];
  }
}
