// Texts and formats for the page's language. The server translated the texts into the JSON
// block #field-messages (webapp/field/messages.py); numbers and dates follow DESIGN.md §9
// (Vietnamese: 106.200 and 26/07/2023).

const block = document.getElementById('field-messages');
const messages = block ? JSON.parse(block.textContent) : {};

export const lang = (document.documentElement.lang || 'vi').slice(0, 2);
const locale = lang === 'vi' ? 'vi-VN' : 'en-GB';

/** The message `key` with %(name)s filled in; plural messages pick their form by `n`. */
export function t(key, vars = {}) {
  let text = messages[key];
  if (text && typeof text === 'object') text = Number(vars.n) === 1 ? text.one : text.other;
  if (typeof text !== 'string') return key;
  return text.replace(/%\((\w+)\)s/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

export function has(key) {
  return key in messages;
}

export function formatNumber(value) {
  return new Intl.NumberFormat(locale).format(value);
}

/** 'YYYY-MM-DD' (a calendar date, no time zone) as the locale writes it: 26/07/2023, or
 *  "Thứ Tư, 26/07/2023" with `weekday`. */
export function formatDate(isoDate, { weekday = false } = {}) {
  const [y, m, d] = isoDate.split('-').map(Number);
  const options = lang === 'vi'
    ? { day: '2-digit', month: '2-digit', year: 'numeric' }
    : { day: 'numeric', month: 'short', year: 'numeric' };
  if (weekday) options.weekday = 'long';
  return new Intl.DateTimeFormat(locale, options).format(new Date(y, m - 1, d));
}

/** 'YYYY-MM' as a heading: "Tháng 7 năm 2026" / "July 2026". */
export function formatMonth(isoMonth) {
  const [y, m] = isoMonth.split('-').map(Number);
  const text = new Intl.DateTimeFormat(locale, { month: 'long', year: 'numeric' })
    .format(new Date(y, m - 1, 1));
  return text.charAt(0).toUpperCase() + text.slice(1);
}

export function formatTime(date) {
  return new Intl.DateTimeFormat(locale, { hour: '2-digit', minute: '2-digit' }).format(date);
}

export function formatBytes(bytes) {
  const units = ['B', 'KB', 'MB', 'GB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  const digits = unit === 0 || value >= 10 ? 0 : 1;
  return `${new Intl.NumberFormat(locale, { maximumFractionDigits: digits }).format(value)} ${units[unit]}`;
}

/** Today's date on the phone's clock as 'YYYY-MM-DD'. */
export function todayIso(now = new Date()) {
  const pad = (n) => String(n).padStart(2, '0');
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}
