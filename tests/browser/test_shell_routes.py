"""The server side of the app shell, without a browser: worker, manifest, versioned assets,
shell pages that carry no per-user data, and the commune list."""

from __future__ import annotations

import io
import json
import re

import pytest
from flask.testing import FlaskClient
from PIL import Image

from tests.browser.site import Site
from tests.conftest import csrf_token_from
from tests.factories import PASSWORD

PRECACHE = re.compile(r"const PRECACHE_URLS = (\[.*?\]);")
VERSION = re.compile(r'const SHELL_VERSION = "([^"]+)";')


def fetch(client: FlaskClient, url: str) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body, with the file the response streams closed again; asked for
    as the service worker asks (fetch(), not a navigation)."""
    with client.get(url, headers={"Sec-Fetch-Dest": "empty"}) as response:
        return response.status_code, dict(response.headers), response.get_data()


def signed_in(site: Site, login: str = "canbo") -> FlaskClient:
    client = site.app.test_client()
    token = csrf_token_from(client, "/login")
    response = client.post(
        "/login", data={"login": login, "password": PASSWORD, "csrf_token": token}
    )
    assert response.status_code == 302
    return client


def test_the_worker_is_served_for_the_whole_site_and_revalidated(site: Site) -> None:
    response = site.app.test_client().get("/sw.js")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.headers["Service-Worker-Allowed"] == "/"
    assert response.headers["Cache-Control"] == "no-cache"
    body = response.get_data(as_text=True)
    assert VERSION.search(body)
    assert "self.addEventListener('fetch'" in body


def test_every_precached_url_answers_a_signed_in_phone(site: Site) -> None:
    client = signed_in(site)
    body = client.get("/sw.js").get_data(as_text=True)
    version = VERSION.search(body).group(1)
    urls = json.loads(PRECACHE.search(body).group(1))
    assert {"/capture", "/entries", "/offline", "/login", "/manifest.webmanifest"} <= set(urls)
    assert f"/app/{version}/vendor/idb/index.js" in urls
    for url in urls:
        status, headers, _body = fetch(client, url)
        assert status == 200, url
        if url.startswith("/app/"):
            assert headers["Cache-Control"] == "public, max-age=31536000, immutable"
        else:
            assert headers["Cache-Control"] == "no-cache", url


def test_a_deployment_with_another_shell_is_another_worker(site: Site) -> None:
    before = site.app.test_client().get("/sw.js").get_data()
    after = site.new_app(SHELL_VERSION="next").test_client().get("/sw.js").get_data()
    assert before != after
    assert b'const SHELL_VERSION = "next";' in after


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("js/sync.js", 200),
        ("vendor/idb/LICENSE", 200),
        ("sw.js", 404),  # not under the shell's folders
        ("../webapp/__init__.py", 404),
        ("js/../../pyproject.toml", 404),
    ],
)
def test_versioned_assets_come_only_from_the_shell_folders(
    site: Site, path: str, status: int
) -> None:
    assert fetch(site.app.test_client(), f"/app/any/{path}")[0] == status


def test_an_old_versions_asset_is_served_but_never_cached(site: Site) -> None:
    status, headers, _body = fetch(site.app.test_client(), "/app/0ld/js/db.js")
    assert status == 200
    assert headers["Cache-Control"] == "no-store"


def test_the_manifest_makes_an_installable_vietnamese_app(site: Site) -> None:
    client = site.app.test_client()
    response = client.get("/manifest.webmanifest")
    assert response.mimetype == "application/manifest+json"
    manifest = response.get_json(force=True)
    assert (manifest["name"], manifest["short_name"], manifest["lang"]) == (
        "Nhật ký cơ sở",
        "Nhật ký",
        "vi",
    )
    assert manifest["start_url"] == "/capture" and manifest["display"] == "standalone"
    assert manifest["theme_color"].startswith("#")
    seen = set()
    for icon in manifest["icons"]:
        image = Image.open(io.BytesIO(fetch(client, icon["src"])[2]))
        assert icon["sizes"] == f"{image.width}x{image.height}"
        seen.add((icon["sizes"], icon["purpose"]))
    assert {("192x192", "any"), ("512x512", "any"), ("512x512", "maskable")} <= seen


@pytest.mark.parametrize("path", ["/capture", "/entries"])
def test_shell_pages_carry_no_per_user_data(site: Site, path: str) -> None:
    response = signed_in(site).get(path)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    assert response.headers["X-Shell-Version"] in page
    assert "Nguyễn Văn An" not in page  # the user's name comes from the phone's database
    messages = json.loads(
        re.search(
            r'<script type="application/json" id="field-messages">(.*?)</script>', page, re.S
        ).group(1)
    )
    assert messages["saved"] and all(messages.values())


def test_shell_pages_need_a_signed_in_user_but_the_offline_page_does_not(site: Site) -> None:
    client = site.app.test_client()
    assert client.get("/capture").status_code == 302
    assert client.get("/offline").status_code == 200


def test_the_commune_list_defaults_each_unit_to_its_commune(site: Site) -> None:
    places = signed_in(site).get("/field/places.json").get_json()
    assert {"division_code": "02266", "name": "Xã Lâm Bình"} in places["communes"]
    assert places["unit_commune"][str(site.ids["cell_x"])] == "02266"
    assert all(c["division_code"] != "02269" for c in places["communes"])  # not in scope


def test_the_commune_list_answers_json_401_when_signed_out(site: Site) -> None:
    response = site.app.test_client().get(
        "/field/places.json", headers={"Accept": "application/json"}
    )
    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401


def test_the_worker_imports_this_versions_modules(site: Site) -> None:
    """The same files the pages load (one download, compressed), not copies under /static/."""
    body = site.app.test_client().get("/sw.js").get_data(as_text=True)
    version = VERSION.search(body).group(1)
    imports = re.findall(r"^import .* from '([^']+)';$", body, flags=re.MULTILINE)
    assert imports and all(path.startswith(f"/app/{version}/js/") for path in imports)


@pytest.mark.parametrize("encoding", ["br", "zstd", "gzip"])
def test_the_shell_goes_out_compressed_and_cacheable_whoever_asks(
    site: Site, encoding: str
) -> None:
    client = signed_in(site)
    body = client.get("/sw.js").get_data(as_text=True)
    urls = json.loads(PRECACHE.search(body).group(1))
    raw = compressed = 0
    for url in urls:
        if not url.endswith((".js", ".css")) and not url.startswith("/capture"):
            continue
        headers = {"Accept-Encoding": encoding, "Sec-Fetch-Dest": "empty"}
        with client.get(url, headers=headers) as response:
            assert response.headers["Content-Encoding"] == encoding, url
            vary = {v.strip().lower() for v in response.headers["Vary"].split(",")}
            assert "accept-encoding" in vary, url
            if url.startswith("/app/"):
                # The same for everyone: kept by the browser whatever cookie it sends.
                assert "cookie" not in vary, url
            compressed += len(response.get_data())
        with client.get(url, headers={"Sec-Fetch-Dest": "empty"}) as plain:
            assert "Content-Encoding" not in plain.headers
            raw += len(plain.get_data())
    assert compressed < raw * 0.45, (raw, compressed)


def test_json_and_pages_are_compressed_photos_are_not(site: Site) -> None:
    assert not [t for t in site.app.config["COMPRESS_MIMETYPES"] if t.startswith("image/j")]
    client = signed_in(site)
    headers = {"Accept-Encoding": "gzip"}
    assert client.get("/api/v1/reference", headers=headers).headers["Content-Encoding"] == "gzip"
    assert client.get("/", headers=headers).headers["Content-Encoding"] == "gzip"
    assert "Content-Encoding" not in client.get("/", headers={"Accept-Encoding": ""}).headers
    manifest = client.get("/manifest.webmanifest")
    again = client.get("/manifest.webmanifest", headers={"If-None-Match": manifest.headers["ETag"]})
    assert again.status_code == 304  # the worker's copy costs no second download
