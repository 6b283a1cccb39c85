// The sign-in page. It belongs to the app shell: after a sign-out made with no signal the
// service worker shows the phone's copy, whose form tokens are stale and which may have no
// network at all. So: say what is going on, and before sending the form finish the sign-out
// on the server and put fresh tokens in.

import { csrfToken } from './api.js';
import { finishSignOut } from './signout.js';

const form = document.querySelector('form[data-signin]');
const notice = document.getElementById('signin-notice');
const signedOut = new URLSearchParams(location.search).has('signed_out');

function showState() {
  const text = navigator.onLine ? (signedOut ? notice.dataset.signedOut : '') : notice.dataset.offline;
  notice.textContent = text;
  notice.hidden = !text;
}

/** Resolves to true when the forms on the page carry a token the server accepts now. */
async function renewTokens() {
  try {
    if (!(await finishSignOut())) return false;
    const token = await csrfToken();
    for (const input of document.querySelectorAll('input[name="csrf_token"]')) input.value = token;
    return true;
  } catch {
    return false;
  }
}

form?.addEventListener('submit', async (event) => {
  if (form.dataset.renewed === 'yes') return;
  event.preventDefault();
  if (!(await renewTokens())) {
    showState();
    notice.textContent = notice.dataset.offline;
    notice.hidden = false;
    return;
  }
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
