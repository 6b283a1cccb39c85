// The unit tree: a unit's <details> loads the level below it the first time it opens.
// Without JavaScript the link inside the <details> opens that unit's page instead.

async function loadChildren(details) {
  const slot = details.querySelector('[data-slot]');
  if (!slot || details.dataset.state === 'loading' || details.dataset.state === 'loaded') return;
  details.dataset.state = 'loading';
  slot.setAttribute('aria-busy', 'true');
  try {
    const response = await fetch(details.dataset.children, {
      credentials: 'same-origin',
      headers: { Accept: 'text/html' },
      redirect: 'error', // signed out meanwhile: keep the link rather than show a sign-in form
    });
    if (!response.ok) throw new Error(`HTTP ${response.status}`);
    // A fragment rendered (and escaped) by the server, from this origin.
    const html = await response.text();
    const doc = new DOMParser().parseFromString(html, 'text/html');
    slot.replaceChildren(...doc.body.childNodes);
    details.dataset.state = 'loaded';
  } catch {
    // Keep the link that opens the unit's page; try again on the next opening.
    delete details.dataset.state;
  } finally {
    slot.removeAttribute('aria-busy');
  }
}

// 'toggle' does not bubble, but it can be caught on the way down: this also covers the
// levels added later.
document.addEventListener(
  'toggle',
  (event) => {
    const details = event.target;
    if (details instanceof HTMLDetailsElement && details.open && details.dataset.children) {
      loadChildren(details);
    }
  },
  true,
);
