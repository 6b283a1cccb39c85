// The sign-in page. It belongs to the app shell: after a sign-out made with no signal the
// service worker shows the phone's copy, whose form tokens are stale and which may have no
// network at all. So: say what is going on, and before sending the form finish the sign-out
// on the server and put fresh tokens in.

import { ApiError, csrfToken } from './api.js';
import { setMeta } from './db.js';
import { finishSignOut } from './signout.js';

const form = document.querySelector('form[data-signin]');
const notice = document.getElementById('signin-notice');
const signedOut = new URLSearchParams(location.search).has('signed_out');

function say(text) {
  notice.textContent = text ?? '';
  notice.hidden = !text;
}

function showState() {
  say(navigator.onLine ? (signedOut ? notice.dataset.signedOut : '') : notice.dataset.offline);
}

/** Put tokens the server accepts now into the page's forms; resolves to what went wrong:
 *  null, 'offline' (no answer) or 'server' (an answer, but not a good one). */
async function renewTokens() {
  try {
    if (!(await finishSignOut())) return 'offline';
    const token = await csrfToken();
    for (const input of document.querySelectorAll('input[name="csrf_token"]')) input.value = token;
    return null;
  } catch (error) {
    return error instanceof ApiError && error.kind !== 'network' ? 'server' : 'offline';
  }
}

form?.addEventListener('submit', async (event) => {
  if (form.dataset.renewed === 'yes') return;
  event.preventDefault();
  const problem = await renewTokens();
  if (problem) {
    say(problem === 'offline' ? notice.dataset.offline : notice.dataset.failed);
    return;
  }
  // Whoever signs in now: the phone shows nobody until the server has said who.
  await setMeta('session', null).catch(() => {});
  form.dataset.renewed = 'yes';
  form.requestSubmit();
});

addEventListener('online', () => {
  showState();
  renewTokens();
});
addEventListener('offline', showState);
showState();
if (navigator.onLine) renewTokens();
