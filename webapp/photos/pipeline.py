"""The photo pipeline: bytes in, validated + oriented + stripped + resized JPEG bytes out.

`process_photo` is a pure function: no Flask, no database, no file or network I/O, no state of
its own (only Pillow's process-wide settings described below). Everything it needs arrives as
arguments; everything it learns is returned in a `ProcessedPhoto` or raised as a
`PhotoRejected`, the only exception bad input can cause (a seeded fuzz in the tests holds it to
that; a bug of ours still raises normally).

Decisions, with the numbers behind them (DESIGN.md §10, `python -m bench photos`):

* Accepted: JPEG (incl. MPO, the multi-picture JPEG many Android cameras write), PNG, WebP and,
  when `pillow-heif` is importable, HEIC/HEIF. Only those Pillow decoders ever see the bytes
  (`Image.open(formats=...)`). GIF, BMP, TIFF, AVIF, SVG, … are refused as `unsupported_type`: no
  phone camera writes them, and every decoder we skip is attack surface we don't carry. Animated
  PNG/WebP/HEIF: the first frame is used.
* Limits, checked from the header before any pixel is decoded: at most `MAX_PIXELS` (50 MP:
  a 48 MP phone photo passes) and `MAX_SIDE` (12000 px) per side. `Image.MAX_IMAGE_PIXELS` is set to
  `MAX_PIXELS` on purpose, so Pillow's own guard inside `Image.open` agrees with ours; its
  `DecompressionBombWarning` is turned into an error while we decode (see `_pillow_warnings`).
* Speed: JPEGs are decoded with `Image.draft("RGB", box)`, the box being the display size in the
  *stored* orientation, so libjpeg scales the DCT by 1/2, 1/4 or 1/8 while decoding (a square
  box would silently skip that). The final resize is BILINEAR with `reducing_gap=2.0` (a box
  `reduce()` first when the ratio is ≥ 2). Measured on the 2-core bench machine for the
  2000×1500 draft → 1600×1200 step: BILINEAR 61 ms, BICUBIC 93 ms, LANCZOS 125 ms; the display
  copy is a little softer than LANCZOS (PSNR against the naive full-LANCZOS output 34.5 dB vs
  36.7 dB), invisible at phone-screen size, for ~25 % of the total time. EXIF orientation is
  applied to the small image, and the thumbnail is made from the display copy, never from the
  original. A 12 MP camera JPEG takes ~200 ms (SHA-256 16, draft decode 86, resize 61,
  rotate 7, encodes 16), ~4× less than open → exif_transpose → LANCZOS → save.
  Non-JPEG sources (PNG, WebP, HEIC) have no draft mode and are decoded at full size.
* Output: baseline (not progressive), not optimized, quality 82, 4:2:0, RGB, and *no metadata*:
  no EXIF (so no GPS, no serial numbers), no XMP, no ICC profile, no comment. Pixels are converted
  to sRGB first when the source carries a non-sRGB RGB ICC profile (Display P3, Adobe RGB): that
  costs ~20 ms on those images only and keeps their colours right after the profile is dropped.
  CMYK is converted naively (no CMYK profile maths); alpha is flattened onto white.
* Capture time: EXIF DateTimeOriginal, else DateTimeDigitized, else DateTime, returned as a
  *naive* `datetime` holding the camera's wall-clock time (EXIF has no reliable zone; the
  OffsetTime* tags are ignored). Broken EXIF never rejects a photo: it just yields no orientation
  and no capture time.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Final, Literal

from PIL import (
    Image,
    ImageCms,
    JpegImagePlugin,
    PngImagePlugin,
    UnidentifiedImageError,
    WebPImagePlugin,
)

MAX_PIXELS: Final = 50_000_000
MAX_SIDE: Final = 12_000
DISPLAY_EDGE: Final = 1600
THUMB_EDGE: Final = 320
JPEG_QUALITY: Final = 82

# Deliberate, process-wide: Pillow's guard (warn above this, error above 2×) fires inside
# Image.open, so it must not be looser than ours. We are the only Pillow user in the app.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

RejectCode = Literal[
    "too_large",
    "not_an_image",
    "unsupported_type",
    "sha256_mismatch",
    "truncated",
    "too_many_pixels",
    "bad_dimensions",
]

HTTP_STATUS: Final[dict[str, int]] = {
    "too_large": 413,
    "not_an_image": 415,
    "unsupported_type": 415,
    "sha256_mismatch": 422,
    "truncated": 422,
    "too_many_pixels": 422,
    "bad_dimensions": 422,
}


class PhotoRejected(Exception):
    """The upload is not a photo we keep.

    `code` is stable (clients and translations key on it); `reason_en` is for logs and English UI.
    """

    def __init__(self, code: RejectCode, reason_en: str) -> None:
        super().__init__(code, reason_en)
        self.code: RejectCode = code
        self.reason_en = reason_en

    def __str__(self) -> str:
        return f"{self.code}: {self.reason_en}"

    @property
    def http_status(self) -> int:
        return HTTP_STATUS[self.code]


@dataclass(frozen=True, slots=True)
class ProcessedPhoto:
    display: bytes  # JPEG, long edge ≤ display_edge, oriented, no metadata
    thumbnail: bytes  # JPEG, long edge ≤ thumb_edge, made from the display copy
    width: int  # of the display copy, after orientation
    height: int
    sha256: str  # lowercase hex of the original bytes
    content_type: str  # detected from the bytes, e.g. "image/jpeg"
    taken_at: datetime | None  # naive camera wall-clock time from EXIF, or None


_CONTENT_TYPES: Final = {
    "JPEG": "image/jpeg",
    "MPO": "image/jpeg",
    "PNG": "image/png",
    "WEBP": "image/webp",
    "HEIF": "image/heic",
}
_SHA256_RE: Final = re.compile(r"[0-9a-fA-F]{64}")
# Exceptions Pillow's decoders raise on malformed input (found by fuzzing, see the tests).
_DECODE_ERRORS: Final = (OSError, SyntaxError, ValueError, EOFError, struct.error, IndexError)
_EXIF_ERRORS: Final = (*_DECODE_ERRORS, KeyError, TypeError)
_ICC_ERRORS: Final = (OSError, ValueError, TypeError, ImageCms.PyCMSError)

_TAG_ORIENTATION: Final = 0x0112
_TAG_DATETIME: Final = 0x0132
_IFD_EXIF: Final = 0x8769
_TAG_DATETIME_ORIGINAL: Final = 0x9003
_TAG_DATETIME_DIGITIZED: Final = 0x9004

_TRANSPOSE: Final = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}
_WHITE: Final = (255, 255, 255)


def heif_supported() -> bool:
    """True when HEIC/HEIF uploads are accepted (the optional `pillow-heif` is installed)."""
    return bool(_heif_formats())


def process_photo(
    data: bytes,
    *,
    declared_sha256: str | None,
    max_bytes: int,
    display_edge: int = DISPLAY_EDGE,
    thumb_edge: int = THUMB_EDGE,
    quality: int = JPEG_QUALITY,
) -> ProcessedPhoto:
    """Validate `data` and return display + thumbnail JPEGs; raise `PhotoRejected` otherwise.

    `declared_sha256` (hex, any case) is what the client says it sent; None skips the check.
    """
    if len(data) > max_bytes:
        raise PhotoRejected("too_large", f"the file is larger than {max_bytes} bytes")
    if not data:
        raise PhotoRejected("not_an_image", "the file is empty")
    sha256 = hashlib.sha256(data).hexdigest()
    if declared_sha256 is not None and (
        not _SHA256_RE.fullmatch(declared_sha256) or declared_sha256.lower() != sha256
    ):
        raise PhotoRejected("sha256_mismatch", "the bytes do not match the declared SHA-256")

    with _pillow_warnings():
        decoded = _decode(data, display_edge)
    display = _flatten(decoded.image)
    if decoded.icc_profile:
        display = _to_srgb(display, decoded.icc_profile)
    if decoded.orientation in _TRANSPOSE:
        display = display.transpose(_TRANSPOSE[decoded.orientation])
    thumb = display.resize(
        _fit(display.size, thumb_edge), Image.Resampling.BILINEAR, reducing_gap=2.0
    )
    return ProcessedPhoto(
        display=_encode_jpeg(display, quality),
        thumbnail=_encode_jpeg(thumb, quality),
        width=display.width,
        height=display.height,
        sha256=sha256,
        content_type=decoded.content_type,
        taken_at=decoded.taken_at,
    )


@dataclass(frozen=True, slots=True)
class _Decoded:
    image: Image.Image  # RGB or RGBA, display size, stored orientation
    orientation: int
    taken_at: datetime | None
    icc_profile: bytes | None
    content_type: str


@contextmanager
def _pillow_warnings() -> Iterator[None]:
    """The warnings policy while Pillow reads untrusted bytes.

    DecompressionBombWarning is an error (→ too_many_pixels). The UserWarnings Pillow and
    pillow-heif emit about malformed *metadata* ("Corrupt EXIF data", "Tag data larger than
    file", "malformed MPO file") are silenced: that metadata is dropped anyway, and an upload
    should not fill the log. Malformed *pixel* data raises, and is rejected.
    (`catch_warnings` swaps process-wide filters; if two threads overlap, the worst case is
    that one of these two filters outlives the call, which is the policy we want anyway.)
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning, module=r"(PIL|pillow_heif)\.")
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        yield


def _decode(data: bytes, display_edge: int) -> _Decoded:
    with _open(data) as im:
        content_type = _CONTENT_TYPES.get(im.format or "", "image/jpeg")
        if im.format == "HEIF":
            content_type = im.get_format_mimetype() or content_type
        stored_size = im.size
        display_size = _fit(stored_size, display_edge)
        box = None
        if isinstance(im, JpegImagePlugin.JpegImageFile) and display_size != stored_size:
            drafted = im.draft("RGB", display_size)  # a box in the *stored* orientation
            box = drafted[1] if drafted else None
        try:
            im.load()
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise _too_many_pixels() from exc
        except _DECODE_ERRORS as exc:
            raise PhotoRejected("truncated", "the image data is incomplete or damaged") from exc
        orientation, taken_at = _read_exif(im)
        icc_profile = im.info.get("icc_profile")
        small = _to_rgb_or_rgba(im)
        if small.size != display_size:
            small = small.resize(display_size, Image.Resampling.BILINEAR, box, reducing_gap=2.0)
        elif small is im:
            small = im.copy()  # `im` is closed when this block ends
    return _Decoded(
        image=small,
        orientation=orientation,
        taken_at=taken_at,
        icc_profile=icc_profile if isinstance(icc_profile, bytes) and icc_profile else None,
        content_type=content_type,
    )


def _open(data: bytes) -> Image.Image:
    """Identify the format and read the header only (lazy), enforcing the size limits."""
    try:
        im = Image.open(io.BytesIO(data), formats=_formats())
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise _too_many_pixels() from exc
    except UnidentifiedImageError as exc:
        raise _unidentified(data) from exc
    except _DECODE_ERRORS as exc:
        raise PhotoRejected("truncated", "the image header is damaged") from exc
    width, height = im.size
    if width < 1 or height < 1 or max(width, height) > MAX_SIDE:
        im.close()
        raise PhotoRejected(
            "bad_dimensions",
            f"the image is {width}×{height} px; each side must be 1 to {MAX_SIDE} px",
        )
    if width * height > MAX_PIXELS:
        im.close()
        raise _too_many_pixels()
    return im


def _too_many_pixels() -> PhotoRejected:
    return PhotoRejected(
        "too_many_pixels", f"the image has more than {MAX_PIXELS // 1_000_000} megapixels"
    )


# Magic numbers of formats we recognise but refuse, so the client hears "unsupported" rather
# than "not an image"; and of formats we accept, so a header Pillow could not parse is "damaged".
_SUPPORTED_MAGIC: Final = (b"\xff\xd8\xff", b"\x89PNG\r\n\x1a\n")
_UNSUPPORTED_MAGIC: Final = {
    b"GIF87a": "GIF",
    b"GIF89a": "GIF",
    b"BM": "BMP",
    b"II*\x00": "TIFF",
    b"MM\x00*": "TIFF",
    b"\x00\x00\x01\x00": "ICO",
    b"8BPS": "PSD",
    b"\xff\x0a": "JPEG XL",
    b"\x00\x00\x00\x0cJXL ": "JPEG XL",
    b"<svg": "SVG",
}
_HEIF_BRANDS: Final = (b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1")


def _unidentified(data: bytes) -> PhotoRejected:
    head = data[:32]
    if head.startswith(_SUPPORTED_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP"):
        return PhotoRejected("truncated", "the image header is incomplete or damaged")
    if head[4:8] == b"ftyp":
        brand = head[8:12]
        if brand in _HEIF_BRANDS and heif_supported():
            return PhotoRejected("truncated", "the HEIF container is incomplete or damaged")
        name = "HEIC" if brand in _HEIF_BRANDS else "AVIF" if brand.startswith(b"avi") else "ISO"
        return PhotoRejected("unsupported_type", f"{name} images are not accepted")
    for magic, name in _UNSUPPORTED_MAGIC.items():
        if head.startswith(magic):
            return PhotoRejected("unsupported_type", f"{name} images are not accepted")
    accepted = "JPEG, PNG, WebP" + (", HEIC" if heif_supported() else "")
    return PhotoRejected("not_an_image", f"the file is not an image we can read ({accepted})")


@cache
def _heif_formats() -> tuple[str, ...]:
    """Register pillow-heif's opener once, if installed (thumbnails and depth maps not decoded)."""
    try:
        import pillow_heif  # optional dependency
    except ImportError:
        return ()
    pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)
    return ("HEIF",)


def _formats() -> tuple[str, ...]:
    return (
        JpegImagePlugin.JpegImageFile.format,  # also yields MPO, its multi-picture subclass
        PngImagePlugin.PngImageFile.format,
        WebPImagePlugin.WebPImageFile.format,
        *_heif_formats(),
    )


def _fit(size: tuple[int, int], edge: int) -> tuple[int, int]:
    """`size` scaled down (never up) so its long edge is at most `edge`; each side ≥ 1."""
    width, height = size
    longest = max(width, height)
    if longest <= edge:
        return size
    return max(1, round(width * edge / longest)), max(1, round(height * edge / longest))


def _read_exif(im: Image.Image) -> tuple[int, datetime | None]:
    """Orientation (1–8, 1 if unknown) and capture time. Broken EXIF counts as absent."""
    try:
        exif = im.getexif()
        orientation = exif.get(_TAG_ORIENTATION, 1)
        sub = exif.get_ifd(_IFD_EXIF)
        candidates = (
            sub.get(_TAG_DATETIME_ORIGINAL),
            sub.get(_TAG_DATETIME_DIGITIZED),
            exif.get(_TAG_DATETIME),
        )
    except _EXIF_ERRORS:
        return 1, None
    taken_at = next((t for t in map(_exif_datetime, candidates) if t is not None), None)
    return (orientation if isinstance(orientation, int) else 1), taken_at


def _exif_datetime(value: object) -> datetime | None:
    if isinstance(value, bytes):
        value = value.decode("ascii", "replace")
    if not isinstance(value, str):
        return None
    text = value.strip("\x00 ")
    if len(text) < 19:
        return None
    # "2024:03:05 14:07:09"; some software writes dashes in the date part.
    text = text[:10].replace("-", ":") + " " + text[11:19]
    try:
        return datetime.strptime(text, "%Y:%m:%d %H:%M:%S")  # naive on purpose
    except ValueError:
        return None


def _to_rgb_or_rgba(im: Image.Image) -> Image.Image:
    """Any decoded mode → RGB, or RGBA when there is transparency to flatten later."""
    mode = im.mode
    if mode in ("RGB", "RGBA"):
        return im
    if mode in ("LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in im.info):
        return im.convert("RGBA")
    if mode.startswith("I;16") or mode == "I":
        # 16-bit greyscale: scale to 8 bits (convert() would clip everything above 255 to white).
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L").convert("RGB")
    try:
        return im.convert("RGB")  # L, 1, P, CMYK, YCbCr, F, …
    except ValueError as exc:
        raise PhotoRejected("unsupported_type", f"pixel format {mode} is not supported") from exc


def _flatten(im: Image.Image) -> Image.Image:
    if im.mode != "RGBA":
        return im
    background = Image.new("RGB", im.size, _WHITE)
    background.paste(im, mask=im.getchannel("A"))
    return background


_SRGB: Final = ImageCms.createProfile("sRGB")


def _to_srgb(im: Image.Image, icc_profile: bytes) -> Image.Image:
    """Convert RGB pixels tagged with a non-sRGB profile to sRGB; leave anything else alone."""
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc_profile))
        if profile.profile.xcolor_space.strip() != "RGB":
            return im
        if "srgb" in (ImageCms.getProfileDescription(profile) or "").lower():
            return im
        transform = ImageCms.buildTransform(profile, _SRGB, "RGB", "RGB")
        converted = ImageCms.applyTransform(im, transform)
    except _ICC_ERRORS:
        return im  # a broken profile is dropped, pixels kept as they are
    return converted if converted is not None else im


def _encode_jpeg(im: Image.Image, quality: int) -> bytes:
    im.info = {}  # nothing from the source (exif, icc_profile, comment, dpi, xmp) is written
    out = io.BytesIO()
    im.save(out, "JPEG", quality=quality, optimize=False, progressive=False)
    return out.getvalue()
