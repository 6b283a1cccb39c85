// Small helpers of the capture form's looks: the chosen day written out, text boxes that grow
// with their text, and which tab is the current page.

import { formatDate } from './i18n.js';

/** The browser draws the date field in its own language (mm/dd/yyyy on an English phone): the
 *  chosen day, written the page's way ("Thứ Bảy, 05/12/2026"), says which day it is. */
export function showDay(input, output) {
  const day = input.value;
  output.textContent = /^\d{4}-\d{2}-\d{2}$/.test(day) ? formatDate(day, { weekday: true }) : '';
}

/** The "New entry" tab is the current page only while the form makes a new entry. */
export function markNewEntryTab(current) {
  const tab = document.querySelector('.appnav a[href="/capture"]');
  if (!tab) return;
  if (current) tab.setAttribute('aria-current', 'page');
  else tab.removeAttribute('aria-current');
}

const SIZES_ITSELF = typeof CSS !== 'undefined' && CSS.supports?.('field-sizing', 'content');

function grow(textarea) {
  textarea.style.height = 'auto';
  textarea.style.height = `${textarea.scrollHeight + 2}px`;
}

/** Text boxes show their whole text (CSS field-sizing; measured here where not supported);
 *  `follow` keeps them growing as the user types. */
export function growAll(form, { follow = false } = {}) {
  if (SIZES_ITSELF) return;
  for (const box of form.querySelectorAll('textarea.grow')) {
    grow(box);
    if (follow) box.addEventListener('input', () => grow(box));
  }
}
