"""The hostile photo set, built in memory (no fixtures on disk, no network).

Each `Case` says what a correct pipeline does with it: accept it, or refuse it with a given code.
Builders are cached, so each image is made once per test session.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from PIL import Image, ImageCms, ImageDraw

RED = (255, 0, 0)
GREEN = (0, 255, 0)
BLUE = (0, 0, 255)
WHITE = (255, 255, 255)
QUADRANTS = (RED, GREEN, BLUE, WHITE)  # top-left, top-right, bottom-left, bottom-right
CAPTURED = "2024:03:05 14:07:09"
SERIAL = "SN-0123456789-SECRET"

# The transpose that turns a displayed image into the stored one, per EXIF orientation:
# the inverse of what a viewer applies (2, 3, 4, 5, 7 are their own inverses).
_TO_STORED = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[], bytes]
    rejected: str | None = None  # expected PhotoRejected code; None: accepted
    content_type: str | None = None  # expected when accepted


def _save(im: Image.Image, fmt: str, **params: object) -> bytes:
    out = io.BytesIO()
    im.save(out, fmt, **params)
    return out.getvalue()


def quadrant_image(size: tuple[int, int] = (160, 120)) -> Image.Image:
    """Red, green / blue, white quadrants: every one of the 8 orientations looks different."""
    width, height = size
    im = Image.new("RGB", size, WHITE)
    draw = ImageDraw.Draw(im)
    draw.rectangle((0, 0, width // 2 - 1, height // 2 - 1), fill=RED)
    draw.rectangle((width // 2, 0, width - 1, height // 2 - 1), fill=GREEN)
    draw.rectangle((0, height // 2, width // 2 - 1, height - 1), fill=BLUE)
    return im


@cache
def oriented_jpeg(orientation: int) -> bytes:
    """A JPEG that *displays* as `quadrant_image()` once its EXIF orientation is applied."""
    shown = quadrant_image()
    stored = shown.transpose(_TO_STORED[orientation]) if orientation in _TO_STORED else shown
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(stored, "JPEG", quality=95, exif=exif)


@cache
def realistic_jpeg(width: int = 4000, height: int = 3000, orientation: int = 6) -> bytes:
    """A camera-like JPEG (~4 MB for 12 MP): gradients, coarse and fine noise, some edges.

    The stored top-left 800×600 block is pure red, so after orientation 6 (rotate 90° clockwise
    for display) it must show at the displayed top-right.
    """
    rng = random.Random(7)
    gradient = Image.linear_gradient("L").resize((width, height), Image.Resampling.BILINEAR)
    coarse = Image.frombytes("L", (width // 8, height // 8), rng.randbytes(width * height // 64))
    coarse = coarse.resize((width, height), Image.Resampling.BILINEAR)
    # Sensor-like grain, correlated over 2 px as after a phone's denoiser (i.i.d. per-pixel
    # noise would make an unrealistically incompressible ~5 MB file).
    grain = Image.frombytes("L", (width // 2, height // 2), rng.randbytes(width * height // 4))
    grain = grain.resize((width, height), Image.Resampling.BILINEAR)
    im = Image.merge(
        "RGB",
        (
            Image.blend(gradient, coarse, 0.5),
            Image.blend(coarse.transpose(Image.Transpose.FLIP_LEFT_RIGHT), grain, 0.25),
            Image.blend(gradient.transpose(Image.Transpose.ROTATE_180), grain, 0.12),
        ),
    )
    draw = ImageDraw.Draw(im)
    for x in range(0, width, 250):
        draw.rectangle((x, height // 3, x + 120, height // 3 + 400), fill=(200, 40 + x % 200, 30))
    draw.rectangle((0, 0, width // 5 - 1, height // 5 - 1), fill=RED)
    exif = Image.Exif()
    exif[0x0112] = orientation
    exif[0x010F] = "Hostile"
    exif.get_ifd(0x8769)[0x9003] = CAPTURED
    return _save(im, "JPEG", quality=90, exif=exif)


@cache
def gps_serial_jpeg() -> bytes:
    """GPS position, camera serial number, capture time, a comment and XMP: none may survive."""
    exif = Image.Exif()
    exif[0x010F] = "Hostile Phones"
    exif[0x0110] = "Model X"
    exif[0x0132] = "2024:03:06 08:00:00"  # DateTime (modified): DateTimeOriginal wins
    exif.get_ifd(0x8769).update({0x9003: CAPTURED, 0xA431: SERIAL})
    exif.get_ifd(0x8825).update({1: "N", 2: (21.0, 1.0, 2.5), 3: "E", 4: (105.0, 50.0, 3.0)})
    xmp = b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><exif:GPSLatitude>21,1.04N</exif:GPSLatitude>'
    return _save(
        quadrant_image(),
        "JPEG",
        quality=90,
        exif=exif,
        comment=b"GPS 21.0174N 105.8342E " + SERIAL.encode(),
        xmp=xmp + b"</x:xmpmeta>",
    )


@cache
def datetime_only_jpeg() -> bytes:
    exif = Image.Exif()
    exif[0x0132] = "2023-07-26 09:30:00"  # DateTime only, written with dashes
    return _save(quadrant_image(), "JPEG", exif=exif)


@cache
def broken_exif_jpeg() -> bytes:
    """An APP1 "Exif" segment full of garbage after a valid-looking TIFF header."""
    good = _save(quadrant_image(), "JPEG")
    rng = random.Random(3)
    payload = b"Exif\x00\x00MM\x00*\x00\x00\x00\x08" + b"\x00\x05" + rng.randbytes(300)
    app1 = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    return good[:2] + app1 + good[2:]


@cache
def broken_icc_jpeg() -> bytes:
    return _save(quadrant_image(), "JPEG", icc_profile=b"not an ICC profile" * 10)


@cache
def srgb_icc_jpeg() -> bytes:
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    return _save(quadrant_image(), "JPEG", icc_profile=icc)


def _s15(value: float) -> bytes:
    return struct.pack(">i", round(value * 65536))


def _icc_xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


@cache
def p3_like_icc_profile() -> bytes:
    """A minimal ICC v2 matrix/TRC profile with Display P3 primaries (D50-adapted), gamma 2.2.

    Pillow can only *make* sRGB/LAB/XYZ profiles, so this is packed by hand.
    """
    text = b"Display P3-like test profile\x00"
    tags = [
        (b"desc", b"desc" + bytes(4) + struct.pack(">I", len(text)) + text + bytes(78)),
        (b"wtpt", _icc_xyz(0.9642, 1.0, 0.8249)),
        (b"rXYZ", _icc_xyz(0.5151, 0.2412, -0.0011)),
        (b"gXYZ", _icc_xyz(0.2920, 0.6922, 0.0419)),
        (b"bXYZ", _icc_xyz(0.1571, 0.0666, 0.7841)),
        *(
            (trc, b"curv" + bytes(4) + struct.pack(">IH", 1, round(2.2 * 256)) + bytes(2))
            for trc in (b"rTRC", b"gTRC", b"bTRC")
        ),
    ]
    offset = 128 + 4 + 12 * len(tags)
    table = body = b""
    for signature, data in tags:
        data += bytes(-len(data) % 4)
        table += signature + struct.pack(">II", offset + len(body), len(data))
        body += data
    header = (
        struct.pack(">I", offset + len(body))
        + bytes(4)
        + b"\x02\x10\x00\x00mntrRGB XYZ "
        + bytes(12)
        + b"acsp"
        + bytes(28)
        + _icc_xyz(0.9642, 1.0, 0.8249)[8:]
        + bytes(48)
    )
    return header + struct.pack(">I", len(tags)) + table + body


P3_ORANGE = (200, 100, 50)  # as stored; in sRGB about (216, 93, 24)


@cache
def p3_jpeg() -> bytes:
    im = Image.new("RGB", (64, 48), P3_ORANGE)
    return _save(im, "JPEG", quality=95, icc_profile=p3_like_icc_profile())


@cache
def trailing_payload_jpeg() -> bytes:
    """A polyglot: a valid JPEG with a ZIP-ish payload after the end-of-image marker."""
    return _save(quadrant_image(), "JPEG") + b"PK\x03\x04" + b"PAYLOAD" * 100


@cache
def cmyk_jpeg() -> bytes:
    return _save(Image.new("CMYK", (120, 90), (0, 255, 255, 0)), "JPEG", quality=95)  # red


@cache
def progressive_jpeg() -> bytes:
    im = quadrant_image((2400, 1800))
    return _save(im, "JPEG", quality=90, progressive=True)


@cache
def grayscale_jpeg() -> bytes:
    return _save(Image.linear_gradient("L").resize((300, 200)), "JPEG")


@cache
def mpo_jpeg() -> bytes:
    """Multi-picture JPEG, as written by many Android cameras (Pillow reads it as "MPO")."""
    first = quadrant_image()
    return _save(first, "MPO", save_all=True, append_images=[first.resize((80, 60))])


@cache
def truncated_jpeg() -> bytes:
    data = _save(quadrant_image((800, 600)).effect_spread(20), "JPEG", quality=90)
    return data[: len(data) * 6 // 10]


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _png(width: int, height: int, idat: bytes, *, bit_depth: int = 8, color_type: int = 0) -> bytes:
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


@cache
def huge_header_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """Claims width×height in a valid IHDR (good CRC) but carries a few bytes of pixels."""
    return _png(width, height, zlib.compress(b"\x00" * 64))


@cache
def huge_header_jpeg(width: int = 30_000, height: int = 30_000) -> bytes:
    """SOI, a SOF0 claiming width×height, a SOS, a few bytes: enough for any header parser."""
    sof = struct.pack(">BHHB", 8, height, width, 3) + b"\x01\x22\x00\x02\x11\x01\x03\x11\x01"
    sos = b"\x03\x01\x00\x02\x11\x03\x11\x00\x3f\x00"
    return (
        b"\xff\xd8"
        + b"\xff\xc0"
        + struct.pack(">H", len(sof) + 2)
        + sof
        + b"\xff\xda"
        + struct.pack(">H", len(sos) + 2)
        + sos
        + b"\x00" * 32
        + b"\xff\xd9"
    )


@cache
def wide_png() -> bytes:
    """12001×1: few pixels, but a side longer than any photo we accept."""
    return _png(12_001, 1, zlib.compress(b"\x00" * 12_002))


@cache
def bomb_png(side: int = 20_000) -> bytes:
    """A real decompression bomb: side×side 8-bit grey, all zero (400 MB raw, ~0.4 MB on disk).

    Built without ever holding the raw pixels: zlib output for identical chunks separated by a
    full flush is identical, so one compressed chunk is repeated; the Adler-32 of n zero bytes
    is (n mod 65521) << 16 | 1.
    """
    rows_per_chunk = 100
    assert side % rows_per_chunk == 0
    chunk = (b"\x00" * (side + 1)) * rows_per_chunk  # filter byte 0 + side zero pixels per row
    compressor = zlib.compressobj(9)
    head = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    repeat = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    tail = compressor.flush(zlib.Z_FINISH)[:-4]  # final empty block, without the checksum
    raw_length = (side + 1) * side
    adler = ((raw_length % 65521) << 16) | 1
    idat = head + repeat * (side // rows_per_chunk - 1) + tail + struct.pack(">I", adler)
    return _png(side, side, idat)


@cache
def one_pixel_png() -> bytes:
    return _save(Image.new("RGB", (1, 1), GREEN), "PNG")


@cache
def rgba_png() -> bytes:
    """Left half opaque red, right half fully transparent (must become white, not black)."""
    im = Image.new("RGBA", (200, 100), (0, 0, 0, 0))
    ImageDraw.Draw(im).rectangle((0, 0, 99, 99), fill=(*RED, 255))
    return _save(im, "PNG")


@cache
def palette_png() -> bytes:
    return _save(quadrant_image().convert("P", palette=Image.Palette.ADAPTIVE, colors=4), "PNG")


@cache
def palette_transparent_png() -> bytes:
    im = quadrant_image().convert("P", palette=Image.Palette.ADAPTIVE, colors=4)
    return _save(im, "PNG", transparency=im.getpixel((0, 0)))  # the red quadrant is transparent


@cache
def sixteen_bit_png() -> bytes:
    """16-bit grey at half scale (32768): must come out mid-grey, not clipped to white."""
    return _save(Image.new("I;16", (64, 48), 32768), "PNG")


@cache
def truncated_png() -> bytes:
    data = _save(quadrant_image((400, 300)).effect_spread(10), "PNG")
    return data[: len(data) * 6 // 10]


@cache
def webp() -> bytes:
    return _save(quadrant_image((300, 200)), "WEBP", quality=80)


@cache
def truncated_webp() -> bytes:
    data = _save(quadrant_image((400, 300)).effect_spread(10), "WEBP", quality=90)
    return data[: len(data) * 6 // 10]


@cache
def gif() -> bytes:
    return _save(quadrant_image().convert("P"), "GIF")


@cache
def bmp() -> bytes:
    return _save(quadrant_image(), "BMP")


@cache
def tiff() -> bytes:
    return _save(quadrant_image(), "TIFF")


@cache
def heic() -> bytes:
    """Needs pillow-heif (its encoder); the tests skip HEIC when it is not installed."""
    import pillow_heif  # optional dependency, imported only when HEIC is tested

    out = io.BytesIO()
    pillow_heif.from_pillow(quadrant_image()).save(out, quality=90)
    return out.getvalue()


CASES: tuple[Case, ...] = (
    *(
        Case(f"jpeg_orientation_{n}", lambda n=n: oriented_jpeg(n), content_type="image/jpeg")
        for n in range(1, 9)
    ),
    Case("jpeg_orientation_invalid_9", lambda: oriented_jpeg(9), content_type="image/jpeg"),
    Case("jpeg_12mp_orientation_6", realistic_jpeg, content_type="image/jpeg"),
    Case("jpeg_gps_serial_datetime", gps_serial_jpeg, content_type="image/jpeg"),
    Case("jpeg_datetime_only", datetime_only_jpeg, content_type="image/jpeg"),
    Case("jpeg_broken_exif", broken_exif_jpeg, content_type="image/jpeg"),
    Case("jpeg_broken_icc", broken_icc_jpeg, content_type="image/jpeg"),
    Case("jpeg_srgb_icc", srgb_icc_jpeg, content_type="image/jpeg"),
    Case("jpeg_p3_icc", p3_jpeg, content_type="image/jpeg"),
    Case("jpeg_trailing_payload", trailing_payload_jpeg, content_type="image/jpeg"),
    Case("jpeg_cmyk", cmyk_jpeg, content_type="image/jpeg"),
    Case("jpeg_progressive", progressive_jpeg, content_type="image/jpeg"),
    Case("jpeg_grayscale", grayscale_jpeg, content_type="image/jpeg"),
    Case("jpeg_mpo", mpo_jpeg, content_type="image/jpeg"),
    Case("png_1x1", one_pixel_png, content_type="image/png"),
    Case("png_rgba", rgba_png, content_type="image/png"),
    Case("png_palette", palette_png, content_type="image/png"),
    Case("png_palette_transparent", palette_transparent_png, content_type="image/png"),
    Case("png_16bit", sixteen_bit_png, content_type="image/png"),
    Case("webp", webp, content_type="image/webp"),
    Case("jpeg_truncated_60pct", truncated_jpeg, rejected="truncated"),
    Case("png_truncated_60pct", truncated_png, rejected="truncated"),
    Case("webp_truncated_60pct", truncated_webp, rejected="truncated"),
    Case("png_signature_only", lambda: b"\x89PNG\r\n\x1a\n", rejected="truncated"),
    Case("png_header_30000x30000", huge_header_png, rejected="too_many_pixels"),
    Case("jpeg_header_30000x30000", huge_header_jpeg, rejected="too_many_pixels"),
    Case("png_bomb_20000x20000", bomb_png, rejected="too_many_pixels"),
    Case("png_12001x1", wide_png, rejected="bad_dimensions"),
    Case("zero_bytes", lambda: b"", rejected="not_an_image"),
    Case("text_named_jpg", lambda: b"Hello, this is not a photo.\n" * 3, rejected="not_an_image"),
    Case("html_named_jpg", lambda: b"<!doctype html><script>alert(1)</script>", "not_an_image"),
    Case("gif", gif, rejected="unsupported_type"),
    Case("bmp", bmp, rejected="unsupported_type"),
    Case("tiff", tiff, rejected="unsupported_type"),
    Case("svg", lambda: b'<svg xmlns="http://www.w3.org/2000/svg"/>', "unsupported_type"),
    Case("avif_header", lambda: b"\x00\x00\x00\x1cftypavif" + bytes(64), "unsupported_type"),
    Case("pdf_named_jpg", lambda: b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "not_an_image"),
)
CASES_BY_NAME = {case.name: case for case in CASES}
