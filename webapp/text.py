"""Text helpers: folding Vietnamese for diacritic-insensitive search."""

import unicodedata

_SPECIAL = str.maketrans({"đ": "d", "Đ": "d"})


def fold(text: str | None) -> str:
    """'Nguyễn Văn Đức' -> 'nguyen van duc': lower case, no marks, single spaces."""
    if not text:
        return ""
    decomposed = unicodedata.normalize("NFD", text.translate(_SPECIAL))
    stripped = "".join(ch for ch in decomposed if unicodedata.category(ch) != "Mn")
    return " ".join(stripped.lower().split())


def unstorable(text: str) -> bool:
    """True if `text` holds characters no database here stores: NUL (PostgreSQL refuses it)
    and lone surrogates (not encodable as UTF-8)."""
    return "\x00" in text or any("\ud800" <= ch <= "\udfff" for ch in text)
