"""The photo pipeline against the hostile set (tests/hostile_images.py). No app, no database."""

from __future__ import annotations

import hashlib
import io
import pickle
import random
import struct
import time
from collections.abc import Callable
from datetime import datetime
from functools import cache

import pytest
from PIL import Image

from tests import hostile_images as hostile
from tests.hostile_images import BLUE, CASES, CASES_BY_NAME, GREEN, QUADRANTS, RED, SERIAL, WHITE
from webapp.photos.pipeline import (
    HTTP_STATUS,
    MAX_PIXELS,
    PhotoRejected,
    ProcessedPhoto,
    heif_supported,
    process_photo,
)

MAX_BYTES = 20 * 1024 * 1024
ACCEPTED = [case.name for case in CASES if case.rejected is None]
REJECTED = [case.name for case in CASES if case.rejected is not None]


def run(
    data: bytes, *, declared_sha256: str | None = None, max_bytes: int = MAX_BYTES
) -> ProcessedPhoto:
    return process_photo(data, declared_sha256=declared_sha256, max_bytes=max_bytes)


@cache
def outcome(name: str) -> ProcessedPhoto | PhotoRejected:
    """Each hostile case goes through the pipeline once per session; any other exception fails."""
    try:
        return run(CASES_BY_NAME[name].build())
    except PhotoRejected as exc:
        return exc


def accepted(name: str) -> ProcessedPhoto:
    result = outcome(name)
    assert isinstance(result, ProcessedPhoto), f"{name} was refused: {result}"
    return result


def decode(jpeg: bytes) -> Image.Image:
    im = Image.open(io.BytesIO(jpeg))
    im.load()
    return im


def close_to(pixel: tuple[int, ...], colour: tuple[int, int, int], tolerance: int = 48) -> bool:
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def quadrant_colours(im: Image.Image) -> tuple[tuple[int, ...], ...]:
    """The colour at the centre of each quadrant: top-left, top-right, bottom-left, bottom-right."""
    w, h = im.size
    return tuple(im.getpixel((x, y)) for y in (h // 4, 3 * h // 4) for x in (w // 4, 3 * w // 4))


def header_segments(jpeg: bytes) -> list[tuple[int, bytes]]:
    """(marker, payload) of every segment before the scan data."""
    assert jpeg[:2] == b"\xff\xd8"
    segments, pos = [], 2
    while pos < len(jpeg):
        marker = jpeg[pos + 1]
        (length,) = struct.unpack(">H", jpeg[pos + 2 : pos + 4])
        segments.append((marker, jpeg[pos + 4 : pos + 2 + length]))
        if marker == 0xDA:  # start of scan
            break
        pos += 2 + length
    return segments


# Only these may appear in our output: APP0 (JFIF), DQT, SOF0 (baseline), DHT, SOS.
ALLOWED_MARKERS = {0xE0, 0xDB, 0xC0, 0xC4, 0xDA}


@pytest.mark.parametrize("name", [case.name for case in CASES])
def test_outcome_is_a_photo_or_a_refusal_with_the_right_code(name: str) -> None:
    case = CASES_BY_NAME[name]
    result = outcome(name)
    if case.rejected is None:
        assert isinstance(result, ProcessedPhoto), f"refused: {result}"
        assert result.content_type == case.content_type
    else:
        assert isinstance(result, PhotoRejected), "accepted, but should have been refused"
        assert result.code == case.rejected, result.reason_en
        assert result.http_status == HTTP_STATUS[case.rejected]
        assert result.reason_en


def test_http_status_per_code() -> None:
    assert HTTP_STATUS == {
        "too_large": 413,
        "not_an_image": 415,
        "unsupported_type": 415,
        "sha256_mismatch": 422,
        "truncated": 422,
        "too_many_pixels": 422,
        "bad_dimensions": 422,
    }


@pytest.mark.parametrize("name", ACCEPTED)
def test_outputs_are_baseline_rgb_jpegs_without_any_metadata(name: str) -> None:
    result = accepted(name)
    for blob in (result.display, result.thumbnail):
        im = decode(blob)
        assert im.format == "JPEG"
        assert im.mode == "RGB"
        assert not im.getexif()
        for key in ("exif", "icc_profile", "comment", "xmp", "progressive", "progression"):
            assert key not in im.info
        markers = {marker for marker, _ in header_segments(blob)}
        assert markers <= ALLOWED_MARKERS, sorted(hex(m) for m in markers - ALLOWED_MARKERS)
        header = b"".join(payload for _, payload in header_segments(blob))
        for needle in (b"Exif", b"GPS", b"http://ns.adobe.com", b"xmpmeta", b"ICC_PROFILE"):
            assert needle not in header
        assert b"Exif\x00\x00" not in blob
        assert SERIAL.encode() not in blob
        assert b"PAYLOAD" not in blob


def test_gps_serial_and_comment_do_not_survive_anywhere_in_the_bytes() -> None:
    source = CASES_BY_NAME["jpeg_gps_serial_datetime"].build()
    assert b"GPS" in source and SERIAL.encode() in source  # the fixture really carries them
    result = accepted("jpeg_gps_serial_datetime")
    for blob in (result.display, result.thumbnail):
        for needle in (b"Exif", b"GPS", SERIAL.encode(), b"Hostile Phones", b"Model X"):
            assert needle not in blob


@pytest.mark.parametrize("name", ACCEPTED)
def test_sizes(name: str) -> None:
    result = accepted(name)
    display, thumb = decode(result.display), decode(result.thumbnail)
    assert display.size == (result.width, result.height)
    assert max(display.size) <= 1600
    assert max(thumb.size) <= 320
    assert thumb.width <= display.width and thumb.height <= display.height
    if max(display.size) > 320:  # same shape, to the pixel
        assert abs(thumb.width / thumb.height - display.width / display.height) < 0.02


def test_small_images_are_not_upscaled() -> None:
    assert (accepted("png_1x1").width, accepted("png_1x1").height) == (1, 1)
    assert decode(accepted("png_1x1").thumbnail).size == (1, 1)
    assert (accepted("webp").width, accepted("webp").height) == (300, 200)


@pytest.mark.parametrize("orientation", range(1, 10))
def test_exif_orientation_is_applied(orientation: int) -> None:
    name = f"jpeg_orientation_{orientation}" if orientation < 9 else "jpeg_orientation_invalid_9"
    result = accepted(name)
    assert (result.width, result.height) == (160, 120)
    for blob in (result.display, result.thumbnail):
        colours = quadrant_colours(decode(blob))
        assert all(close_to(got, want) for got, want in zip(colours, QUADRANTS, strict=True)), (
            colours
        )


def test_twelve_megapixel_photo_is_drafted_rotated_and_dated() -> None:
    result = accepted("jpeg_12mp_orientation_6")
    assert (result.width, result.height) == (1200, 1600)  # stored 4000×3000, orientation 6
    display = decode(result.display)
    # The red block stored at the top-left shows at the top-right once rotated for display.
    assert close_to(display.getpixel((result.width - 40, 40)), RED)
    assert not close_to(display.getpixel((40, 40)), RED)
    assert decode(result.thumbnail).size == (240, 320)
    assert result.taken_at == datetime(2024, 3, 5, 14, 7, 9)
    assert 2_500_000 < len(CASES_BY_NAME["jpeg_12mp_orientation_6"].build()) < 6_000_000


def test_jpeg_is_drafted_and_the_thumbnail_is_made_from_the_display_copy(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Spy on resize: a 4000×3000 source must reach it already DCT-scaled to 2000×1500 (a box
    in the stored orientation), and the thumbnail must come from the rotated 1200×1600 copy."""
    calls: list[tuple[tuple[int, int], tuple[int, int]]] = []
    original_resize = Image.Image.resize

    def spy(self: Image.Image, size: tuple[int, int], *args: object, **kwargs: object) -> object:
        calls.append((self.size, tuple(size)))
        return original_resize(self, size, *args, **kwargs)

    monkeypatch.setattr(Image.Image, "resize", spy)
    run(CASES_BY_NAME["jpeg_12mp_orientation_6"].build())
    assert calls == [((2000, 1500), (1600, 1200)), ((1200, 1600), (240, 320))]


@pytest.mark.parametrize(
    ("name", "taken_at"),
    [
        ("jpeg_gps_serial_datetime", datetime(2024, 3, 5, 14, 7, 9)),  # DateTimeOriginal wins
        ("jpeg_datetime_only", datetime(2023, 7, 26, 9, 30, 0)),  # fallback, dashes tolerated
        ("jpeg_broken_exif", None),
        ("jpeg_orientation_1", None),
        ("png_rgba", None),
    ],
)
def test_capture_time_is_naive_camera_time_from_exif(name: str, taken_at: datetime | None) -> None:
    result = accepted(name)
    assert result.taken_at == taken_at
    assert result.taken_at is None or result.taken_at.tzinfo is None


def test_colour_conversions() -> None:
    assert close_to(decode(accepted("jpeg_cmyk").display).getpixel((60, 45)), RED)
    rgba = decode(accepted("png_rgba").display)
    assert close_to(rgba.getpixel((50, 50)), RED)
    assert close_to(rgba.getpixel((150, 50)), WHITE, 8)  # transparent → white, not black
    palette = quadrant_colours(decode(accepted("png_palette").display))
    assert all(close_to(got, want) for got, want in zip(palette, QUADRANTS, strict=True))
    transparent = quadrant_colours(decode(accepted("png_palette_transparent").display))
    assert close_to(transparent[0], WHITE, 8)  # the red quadrant was the transparent index
    assert close_to(transparent[1], GREEN) and close_to(transparent[2], BLUE)
    grey = decode(accepted("png_16bit").display).getpixel((32, 24))
    assert all(120 <= channel <= 136 for channel in grey)
    assert close_to(decode(accepted("png_1x1").display).getpixel((0, 0)), GREEN)
    r, g, b = decode(accepted("jpeg_grayscale").display).getpixel((150, 100))
    assert abs(r - g) <= 4 and abs(g - b) <= 4


def test_a_non_srgb_profile_is_converted_to_srgb_then_dropped() -> None:
    r, g, b = decode(accepted("jpeg_p3_icc").display).getpixel((32, 24))
    assert r > hostile.P3_ORANGE[0] + 8 and b < hostile.P3_ORANGE[2] - 16, (r, g, b)
    r, g, b = decode(accepted("jpeg_srgb_icc").display).getpixel((40, 30))  # sRGB: untouched
    assert close_to((r, g, b), RED, 24)


def test_sha256_is_of_the_original_bytes_and_checked_when_declared() -> None:
    data = CASES_BY_NAME["webp"].build()
    digest = hashlib.sha256(data).hexdigest()
    assert run(data).sha256 == digest
    assert run(data, declared_sha256=digest.upper()).sha256 == digest
    for wrong in (hashlib.sha256(b"other").hexdigest(), "xyz", "", digest[:-1]):
        with pytest.raises(PhotoRejected) as refused:
            run(data, declared_sha256=wrong)
        assert refused.value.code == "sha256_mismatch"
        assert refused.value.http_status == 422


def test_too_large_is_refused_before_anything_else() -> None:
    data = CASES_BY_NAME["webp"].build()
    assert run(data, max_bytes=len(data)).width == 300
    with pytest.raises(PhotoRejected) as refused:
        run(data, max_bytes=len(data) - 1, declared_sha256="0" * 64)
    assert refused.value.code == "too_large"
    assert refused.value.http_status == 413


@pytest.mark.parametrize(
    "build", [hostile.bomb_png, hostile.huge_header_png, hostile.huge_header_jpeg]
)
def test_bombs_are_refused_from_the_header_quickly(build: Callable[[], bytes]) -> None:
    data = build()
    started = time.perf_counter()
    with pytest.raises(PhotoRejected) as refused:
        run(data)
    assert time.perf_counter() - started < 1.0
    assert refused.value.code == "too_many_pixels"


@pytest.mark.parametrize(
    ("width", "height", "code"),
    [
        (8000, 6000, "truncated"),  # 48 MP passes the limits; the fake header then has no pixels
        (7072, 7072, "too_many_pixels"),  # 50.01 MP: just over; Pillow only warns here
        (10_001, 10_001, "too_many_pixels"),  # > 2 × MAX: Pillow's own DecompressionBombError
        (12_001, 100, "bad_dimensions"),
    ],
)
def test_pixel_limits(width: int, height: int, code: str) -> None:
    for data in (hostile.huge_header_png(width, height), hostile.huge_header_jpeg(width, height)):
        with pytest.raises(PhotoRejected) as refused:
            run(data)
        assert refused.value.code == code


def test_max_image_pixels_is_set_on_purpose() -> None:
    assert Image.MAX_IMAGE_PIXELS == MAX_PIXELS


def test_rejection_reads_well_and_survives_pickling() -> None:
    error = PhotoRejected("truncated", "the image data is incomplete or damaged")
    assert str(error) == "truncated: the image data is incomplete or damaged"
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301  our own bytes
    assert (copy.code, copy.reason_en, copy.http_status) == ("truncated", error.reason_en, 422)


def test_output_is_deterministic() -> None:
    data = CASES_BY_NAME["jpeg_orientation_6"].build()
    assert run(data) == run(data)


def test_mutated_images_only_ever_raise_photo_rejected() -> None:
    """A small seeded fuzz: flipped bytes, cuts, inserts and deletes in valid images."""
    seeds = [
        CASES_BY_NAME[name].build()
        for name in (
            "jpeg_orientation_6",
            "jpeg_gps_serial_datetime",
            "jpeg_mpo",
            "jpeg_cmyk",
            "png_rgba",
            "png_palette_transparent",
            "png_16bit",
            "webp",
        )
    ]
    rng = random.Random(20240305)
    outcomes: dict[str, int] = {}
    for _ in range(400):
        data = bytearray(rng.choice(seeds))
        roll = rng.random()
        if roll < 0.5:
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif roll < 0.7:
            del data[rng.randrange(len(data)) :]
        elif roll < 0.85:
            at = rng.randrange(len(data))
            data[at:at] = rng.randbytes(rng.randint(1, 64))
        else:
            at = rng.randrange(len(data))
            del data[at : at + rng.randint(1, 64)]
        try:
            result = run(bytes(data))
        except PhotoRejected as exc:
            outcomes[exc.code] = outcomes.get(exc.code, 0) + 1
        else:
            assert max(result.width, result.height) <= 1600
            outcomes["accepted"] = outcomes.get("accepted", 0) + 1
    assert outcomes.get("accepted") and outcomes.get("truncated")


@pytest.mark.skipif(not heif_supported(), reason="pillow-heif is not installed")
def test_heic_is_accepted_when_pillow_heif_is_installed() -> None:
    result = run(hostile.heic())
    assert result.content_type == "image/heic"
    assert (result.width, result.height) == (160, 120)
    colours = quadrant_colours(decode(result.display))
    assert all(close_to(got, want) for got, want in zip(colours, QUADRANTS, strict=True))
    assert not decode(result.display).getexif()
