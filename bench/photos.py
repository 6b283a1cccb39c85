"""ms per 12-MP camera JPEG through `process_photo`, beside the naive path and the decode floors;
then the whole upload: `PUT /api/v1/photos/<id>` through gunicorn, beside the pipeline alone.

Source: 4000×3000, EXIF orientation 6, camera-like content (~4 MB at quality 90). Every case is
timed round-robin (≥ 7 runs each, after a warm-up) in one process, so they share the load. The
upload runs the documented production command (`gunicorn wsgi:app`, gunicorn.conf.py) on a
SQLite file and the photo folder, over loopback: what it adds to the pipeline is the HTTP
request, the checks (sign-in, CSRF, the entry, scope), the hash, two files written with fsync
and the database row.
"""

from __future__ import annotations

import hashlib
import io
import math

from PIL import Image, ImageChops, ImageOps, ImageStat

from bench.common import machine_line, markdown_table, measure_round_robin
from tests.hostile_images import realistic_jpeg
from webapp.photos.pipeline import DISPLAY_EDGE, JPEG_QUALITY, THUMB_EDGE, process_photo

RUNS = 11
SECRET = "bench-photos"  # noqa: S105 (a throwaway server's)


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    scale = edge / max(size)
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _jpeg(im: Image.Image) -> bytes:
    out = io.BytesIO()
    im.save(out, "JPEG", quality=JPEG_QUALITY)
    return out.getvalue()


def naive(data: bytes) -> tuple[bytes, bytes]:
    """What most code does: full decode, rotate the big image, LANCZOS both sizes from it."""
    with Image.open(io.BytesIO(data)) as im:
        upright = ImageOps.exif_transpose(im)
        display = upright.resize(_fit(upright.size, DISPLAY_EDGE), Image.Resampling.LANCZOS)
        thumb = upright.resize(_fit(upright.size, THUMB_EDGE), Image.Resampling.LANCZOS)
        return _jpeg(display), _jpeg(thumb)


def draft_lanczos(data: bytes) -> tuple[bytes, bytes]:
    """Our pipeline's shape, with LANCZOS instead of BILINEAR: the resample trade-off."""
    with Image.open(io.BytesIO(data)) as im:
        target = _fit(im.size, DISPLAY_EDGE)
        _, box = im.draft("RGB", target) or (None, None)
        im.load()
        display = im.resize(target, Image.Resampling.LANCZOS, box)
        display = display.transpose(Image.Transpose.ROTATE_270)
        thumb = display.resize(_fit(display.size, THUMB_EDGE), Image.Resampling.LANCZOS)
        return _jpeg(display), _jpeg(thumb)


def full_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.load()


def draft_decode(data: bytes) -> None:
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", _fit(im.size, DISPLAY_EDGE))
        im.load()


def floor(data: bytes) -> None:
    """Draft decode + encode both outputs, no resize, no rotation: the least any path can cost."""
    with Image.open(io.BytesIO(data)) as im:
        im.draft("RGB", _fit(im.size, DISPLAY_EDGE))
        im.load()
        _jpeg(im)
        _jpeg(im.reduce(6))


def psnr(a: bytes, b: bytes) -> float:
    """Peak signal-to-noise ratio (dB) between two same-size JPEGs."""
    with Image.open(io.BytesIO(a)) as x, Image.open(io.BytesIO(b)) as y:
        mse = sum(v * v for v in ImageStat.Stat(ImageChops.difference(x, y)).rms) / 3
    return math.inf if mse == 0 else 10 * math.log10(255**2 / mse)


def main() -> None:
    print(machine_line())
    data = realistic_jpeg()  # the tests' 12 MP camera-like photo, EXIF orientation 6
    digest = hashlib.sha256(data).hexdigest()
    print(f"source: 4000×3000 JPEG, EXIF orientation 6, {len(data) / 1e6:.2f} MB\n")

    def pipeline() -> object:
        return process_photo(data, declared_sha256=digest, max_bytes=len(data))

    rows = measure_round_robin(
        {
            "(a) naive: open → exif_transpose → LANCZOS 1600 & 320 → save": lambda: naive(data),
            "process_photo: draft → BILINEAR → rotate → thumb from display": pipeline,
            "the same with LANCZOS (resample trade-off)": lambda: draft_lanczos(data),
            "(b) decode only, full size": lambda: full_decode(data),
            "(c) draft decode only (DCT 1/2)": lambda: draft_decode(data),
            "floor: draft decode + encode both": lambda: floor(data),
        },
        runs=RUNS,
    )
    print(markdown_table("12 MP JPEG → 1600 + 320", rows, baseline=rows[0].label))
    print(
        f"\nspeed-up of process_photo vs (a): {rows[0].median / rows[1].median:.1f}× by medians, "
        f"{min(rows[0].samples_ms) / min(rows[1].samples_ms):.1f}× by minimums "
        "(target ≥ 4×; process_photo also hashes the original: SHA-256 of the upload)"
    )
    ours = process_photo(data, declared_sha256=None, max_bytes=len(data))
    reference, lanczos = naive(data)[0], draft_lanczos(data)[0]
    print(
        "display PSNR vs the naive LANCZOS display: "
        f"process_photo {psnr(ours.display, reference):.1f} dB, "
        f"draft + LANCZOS {psnr(lanczos, reference):.1f} dB; output sizes: "
        f"display {len(ours.display) // 1024} KB, thumbnail {len(ours.thumbnail) // 1024} KB"
    )
    print_upload(data)


def upload_through_gunicorn(data: bytes) -> tuple[list[float], list[float]]:
    """(ms per PUT of the photo through gunicorn, ms of process_photo alone), interleaved."""
    import tempfile
    import time
    import uuid
    from pathlib import Path
    from urllib.parse import urlencode

    from bench.slow_clients import prepare
    from tests.live_server import gunicorn_production

    digest = hashlib.sha256(data).hexdigest()
    with tempfile.TemporaryDirectory(prefix="bench-photos-") as name:
        tmp = Path(name)
        url = f"sqlite:///{tmp / 'bench.sqlite3'}"
        prepare(url, tmp)
        env = {
            "DATABASE_URL": url,
            "SECRET_KEY": SECRET,
            "APP_ENV": "production",
            "SESSION_COOKIE_SECURE": "0",
            "PHOTO_DIR": str(tmp / "photos"),
            "LOG_REQUESTS": "0",
        }
        with gunicorn_production(env, log_path=tmp / "gunicorn.log") as server:
            phone = server.signed_in("canbo")
            entries = [str(uuid.uuid4()) for _ in range(RUNS + 1)]
            reply = phone.push(
                [
                    {
                        "id": entry,
                        "unit_id": 4,
                        "kind_id": 1,
                        "occurred_on": "2026-11-20",
                        "summary": "Ảnh đo thời gian",
                        "participant_ids": [1],
                        "photos_expected": 1,
                    }
                    for entry in entries
                ]
            )
            assert reply.status == 200, reply.text
            puts, alone = [], []
            for entry in entries:
                started = time.perf_counter()
                query = urlencode({"activity_id": entry, "sha256": digest})
                answer = phone.request(
                    "PUT",
                    f"/api/v1/photos/{uuid.uuid4()}?{query}",
                    body=data,
                    headers={**phone.api_headers(), "Content-Type": "image/jpeg"},
                )
                puts.append((time.perf_counter() - started) * 1000)
                assert answer.status == 201, answer.text
                started = time.perf_counter()
                process_photo(data, declared_sha256=digest, max_bytes=len(data))
                alone.append((time.perf_counter() - started) * 1000)
            phone.close()
    return puts[1:], alone[1:]  # the first of each warms up


def print_upload(data: bytes) -> None:
    import statistics

    puts, alone = upload_through_gunicorn(data)
    print(
        f"\n| the whole upload of the 12 MP JPEG ({len(data) / 1e6:.2f} MB) | runs | median ms |"
        " min | max |\n|---|---:|---:|---:|---:|"
    )
    for label, samples in (
        ("process_photo alone (this process)", alone),
        ("PUT /api/v1/photos/<id> through gunicorn (gthread), loopback", puts),
    ):
        print(
            f"| {label} | {len(samples)} | {statistics.median(samples):.0f} | "
            f"{min(samples):.0f} | {max(samples):.0f} |"
        )
    around = statistics.median(puts) - statistics.median(alone)
    print(f"\nthe request around the pipeline: {around:.0f} ms by medians")
