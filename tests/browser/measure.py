"""The field app's numbers (issue 4, item 6), measured on this machine:

    .venv/bin/python -m tests.browser.measure [--runs 5] [--entries 50]

1. app-shell transfer size: every precached file, raw and gzip -6 (what a gzipping proxy sends);
   and a whole first visit (sign-in to the shell precached) as the server sent it;
2. tap Save with one 12 MP camera photo → "Saved on this phone", in headless Chromium
   (phone offline, as in a village): the photo chosen and Save tapped at once (the downscale is
   part of the wait), and the photo already prepared when Save is tapped;
3. outbox throughput: N entries with one 1600 px photo each, queued offline, then sent over
   loopback to the werkzeug test server with SQLite; entries per second until all are stored.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import io
import re
import statistics
import tempfile
import time
from collections import Counter
from pathlib import Path

from PIL import Image
from playwright.sync_api import Browser, Page, sync_playwright

from tests import hostile_images
from tests.browser import phone
from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, context_options
from tests.browser.phone import PhotoFile, fill_entry, open_capture, sign_in, wait_for_worker
from tests.browser.site import Site, build_site, wait_for
from webapp.field import shell

TIME_SAVE_JS = """
() => {
  const status = document.getElementById('save-status');
  status.dataset.state = 'idle';
  // Wrapped in an object: evaluate_handle() would wait for a bare promise to settle.
  return { done: new Promise((resolve) => {
    let started = 0;
    document.getElementById('save-button').addEventListener(
      'click', () => { started = performance.now(); }, { capture: true, once: true });
    const watch = new MutationObserver(() => {
      if (status.dataset.state === 'saved') {
        watch.disconnect();
        resolve(performance.now() - started);
      }
    });
    watch.observe(status, { attributes: true });
  }) };
}
"""

QUEUE_JS = """
async ([version, count, photoB64, kindId, tag]) => {
  const store = await import(`/app/${version}/js/db.js`);
  const { sha256Hex } = await import(`/app/${version}/js/photos.js`);
  const me = await store.sessionUser();
  const bytes = Uint8Array.from(atob(photoB64), (c) => c.charCodeAt(0));
  const blob = new Blob([bytes], { type: 'image/jpeg' });
  const sha256 = await sha256Hex(blob);
  const today = new Date().toISOString().slice(0, 10);
  for (let i = 0; i < count; i += 1) {
    const entry = {
      id: crypto.randomUUID(), user_id: me.id, kind_id: kindId, program_id: null,
      occurred_on: today, unit_id: me.scope_unit_id, participant_ids: [me.member_id],
      division_code: null, village: 'Nà Va', lat: null, lon: null, accuracy_m: null,
      people_reached: 3, households_reached: 1, summary: `${tag} ${i}`, notes: null,
      captured_at: new Date().toISOString(),
    };
    const photo = {
      id: crypto.randomUUID(), activity_id: entry.id, user_id: me.id, blob, sha256,
      width: 1600, height: 1200, size: blob.size, name: `p${i}.jpg`, added_at: Date.now() + i,
    };
    await store.saveEntry(entry, [photo]);
  }
}
"""


def shell_size(site: Site) -> tuple[int, int, int]:
    client = site.app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    client.post(
        "/login", data={"login": "canbo", "password": "mat-khau-thu-nghiem", "csrf_token": token}
    )
    with site.app.test_request_context("/"):
        urls = shell.precache_urls()
    raw = packed = 0
    for url in urls:
        # Asked for as the service worker asks (a fetch, not a navigation).
        body = client.get(url, headers={"Sec-Fetch-Dest": "empty"}).get_data()
        raw += len(body)
        packed += len(gzip.compress(body, compresslevel=6))
    return len(urls), raw, packed


def first_visit(browser: Browser, site: Site) -> None:
    """Everything the server sends on a phone's first visit: the sign-in page, signing in,
    the capture page, the shell the service worker precaches, the lists. Bytes as they went
    on the wire over HTTP/1.1 (status line, headers, body; counted by the test server)."""
    page = browser.new_context(**context_options(site)).new_page()
    mark = site.controlled.mark()
    phone.first_visit(page, "canbo.en")
    transfers = site.controlled.transfers_since(mark)
    page.context.close()
    downloads = Counter(
        t.path for t in transfers if t.status == 200 and t.path.startswith(("/app/", "/static/"))
    )
    twice = sum(1 for n in downloads.values() if n > 1)
    groups: dict[str, int] = {}
    for t in transfers:
        kind = (
            "shell files"
            if t.path.startswith(("/app/", "/static/"))
            else "data (API)"
            if t.path.startswith(("/api/", "/field/"))
            else "pages, worker, manifest"
        )
        groups[kind] = groups.get(kind, 0) + t.bytes
    total = sum(t.bytes for t in transfers)
    detail = ", ".join(f"{k} {v / 1024:.1f}" for k, v in sorted(groups.items()))
    print(
        f"first visit: {len(transfers)} requests, {total / 1024:.1f} KiB on the wire"
        f" ({detail}); shell files downloaded twice: {twice}"
    )


def time_saves(page: Page, site: Site, runs: int, prepared: bool) -> list[float]:
    camera = PhotoFile("IMG_20261127_101500.jpg", hostile_images.realistic_jpeg())
    times = []
    for run in range(runs):
        timer = page.evaluate_handle(TIME_SAVE_JS)
        fill_entry(page, f"measure save {run}", site.ids["kind"], (camera,))
        if prepared:
            page.wait_for_selector("#photo-list li")
        page.click("#save-button")
        times.append(page.evaluate("timer => timer.done", timer))
    return times


PREPARE_JS = """
async ([version, photoB64, runs]) => {
  const { preparePhoto } = await import(`/app/${version}/js/photos.js`);
  const bytes = Uint8Array.from(atob(photoB64), (c) => c.charCodeAt(0));
  const file = new File([bytes], 'IMG.jpg', { type: 'image/jpeg' });
  const times = [];
  for (let i = 0; i < runs; i += 1) {
    const started = performance.now();
    const photo = await preparePhoto(file);
    times.push([performance.now() - started, photo.width, photo.height, photo.blob.size]);
  }
  return times;
}
"""


def time_prepare(page: Page, runs: int) -> list[list[float]]:
    """preparePhoto() alone: decode, orient, downscale, encode, hash."""
    version = page.get_attribute("meta[name=shell-version]", "content")
    data = base64.b64encode(hostile_images.realistic_jpeg()).decode()
    return page.evaluate(PREPARE_JS, [version, data, runs])


def downscaled_photo() -> bytes:
    image = Image.open(io.BytesIO(hostile_images.realistic_jpeg()))
    image.draft("RGB", (1600, 1200))
    image = image.resize((1600, 1200))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=80)
    return out.getvalue()


def throughput(page: Page, site: Site, count: int) -> tuple[float, int]:
    photo = downscaled_photo()
    tag = f"throughput-{time.time_ns()}"
    version = page.get_attribute("meta[name=shell-version]", "content")
    page.context.set_offline(True)
    page.evaluate(
        QUEUE_JS,
        [version, count, base64.b64encode(photo).decode(), site.ids["kind"], tag],
    )
    started = time.perf_counter()
    page.context.set_offline(False)  # the page's `online` handler starts sending
    wait_for(
        lambda: len([a for a in site.activities(tag) if a.photos]) == count,
        timeout=600,
        interval=0.05,
    )
    return time.perf_counter() - started, len(photo)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--entries", type=int, default=50)
    args = parser.parse_args()
    with (
        tempfile.TemporaryDirectory() as tmp,
        build_site(Path(tmp)) as site,
        sync_playwright() as p,
    ):
        files, raw, packed = shell_size(site)
        print(f"app shell: {files} files, {raw / 1024:.1f} KiB raw, {packed / 1024:.1f} KiB gzip")

        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        first_visit(browser, site)
        page = browser.new_context(**context_options(site)).new_page()
        sign_in(page)
        open_capture(page)
        wait_for_worker(page)
        page.context.set_offline(True)
        prepared_runs = time_prepare(page, args.runs)
        width, height, size = prepared_runs[0][1:]
        print(
            f"preparePhoto, 12 MP ({len(hostile_images.realistic_jpeg()) / 1024:.0f} KiB) →"
            f" {width}×{height}, {size / 1024:.0f} KiB: median"
            f" {statistics.median(r[0] for r in prepared_runs):.0f} ms"
        )
        for prepared in (False, True):
            times = time_saves(page, site, args.runs, prepared)
            label = "photo prepared before Save" if prepared else "photo chosen, Save at once"
            print(
                f"Save → saved, one 12 MP photo ({label}): median {statistics.median(times):.0f} ms"
                f" (runs: {', '.join(f'{t:.0f}' for t in times)})"
            )
        page.context.set_offline(False)
        wait_for(lambda: page.get_attribute("#sync-status", "data-waiting") == "0", timeout=120)

        seconds, photo_bytes = throughput(page, site, args.entries)
        print(
            f"outbox: {args.entries} entries with one {photo_bytes / 1024:.0f} KiB photo each in"
            f" {seconds:.1f} s = {args.entries / seconds:.1f} entries/s"
        )
        browser.close()


if __name__ == "__main__":
    main()
