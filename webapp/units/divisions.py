"""Vietnam's official administrative divisions (the `vietnam-provinces` package) as units.

Since mid-2025 there are two tiers: 34 provinces and about 3,300 communes, wards and special
zones. A province becomes a unit of kind "province" and each of its divisions a child of kind
"commune", keyed by the official code, so importing again only picks up renames.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from vietnam_provinces import Province, Ward

from webapp.csv_import import ImportCounts
from webapp.extensions import db
from webapp.models import Unit
from webapp.text import fold
from webapp.units.services import create_unit

# Folded prefixes people may or may not write before a province's name.
_PREFIXES = ("tinh ", "thanh pho ", "tp. ", "tp.", "tp ")
MAX_SUGGESTIONS = 5


class UnknownProvince(LookupError):
    """No province matches; `suggestions` holds up to five official names that come close."""

    def __init__(self, query: str, suggestions: list[str]) -> None:
        super().__init__(query)
        self.query = query
        self.suggestions = suggestions

    def message(self) -> str:
        if self.suggestions:
            return _(
                "No province “%(query)s”. Did you mean: %(names)s?",
                query=self.query,
                names="; ".join(self.suggestions),
            )
        return _(
            "No province “%(query)s”. Names look like “Tuyên Quang”, codes like 08.",
            query=self.query,
        )


@dataclass(frozen=True)
class Division:
    code: str
    name: str


def province_code(province: Province) -> str:
    return f"{int(province.code):02d}"


def ward_code(ward: Ward) -> str:
    return f"{int(ward.code):05d}"


def province_key(name: str) -> str:
    """'Tỉnh Tuyên Quang', 'tuyen quang' -> 'tuyen quang'; 'TP. Hà Nội' -> 'ha noi'."""
    key = fold(name)
    for prefix in _PREFIXES:
        if key.startswith(prefix):
            return key[len(prefix) :].strip()
    return key


def find_province(name: str | None = None, code: str | None = None) -> Province:
    """The province with this official code ('08' or '8') or name (any diacritics, with or
    without 'Tỉnh'/'Thành phố'); raises `UnknownProvince` with close matches."""
    provinces = list(Province.iter_all())
    if code is not None:
        wanted = code.strip()
        for province in provinces:
            if wanted.isdigit() and int(wanted) == int(province.code):
                return province
        raise UnknownProvince(wanted, [])
    query = (name or "").strip()
    key = province_key(query)
    by_key = {province_key(p.name): p for p in provinces}
    if key in by_key:
        return by_key[key]
    raise UnknownProvince(query, _close_names(key, by_key))


def _close_names(key: str, by_key: dict[str, Province]) -> list[str]:
    """Names containing the query first ('quang' -> Quảng Ninh, ...), then difflib's guesses."""
    contained = [k for k in by_key if key and key in k]
    close = difflib.get_close_matches(key, list(by_key), n=MAX_SUGGESTIONS, cutoff=0.6)
    keys = list(dict.fromkeys(contained + close))[:MAX_SUGGESTIONS]
    return [by_key[k].name for k in keys]


def divisions_of(province: Province) -> list[Division]:
    """The province's communes, wards and special zones, by code."""
    wards = sorted(Ward.iter_by_province(province.code), key=lambda w: int(w.code))
    return [Division(ward_code(w), w.name) for w in wards]


def import_divisions(province: Province) -> tuple[Unit, ImportCounts]:
    """Make the province and its divisions units, matching existing ones by division code.

    A unit found by code keeps its place in the tree and gets the official name if it was
    renamed; a unit with the official name under the province but no code gets the code.
    """
    counts = ImportCounts()
    code = province_code(province)
    root = db.session.scalars(select(Unit).where(Unit.division_code == code)).first()
    if root is None:
        root = create_unit(province.name, "province", None, code)
        counts.created += 1
    else:
        _bump(counts, _sync(root, province.name, code))
    divisions = divisions_of(province)
    _import_children(root, divisions, counts)
    return root, counts


def _import_children(root: Unit, divisions: Iterable[Division], counts: ImportCounts) -> None:
    divisions = list(divisions)
    by_code = {
        unit.division_code: unit
        for unit in db.session.scalars(
            select(Unit).where(Unit.division_code.in_([d.code for d in divisions]))
        )
    }
    uncoded = {
        unit.name: unit
        for unit in db.session.scalars(
            select(Unit).where(Unit.parent_id == root.id, Unit.division_code.is_(None))
        )
    }
    new: list[Unit] = []
    for division in divisions:
        unit = by_code.get(division.code) or uncoded.get(division.name)
        if unit is None:
            new.append(
                Unit(
                    name=division.name,
                    kind="commune",
                    parent_id=root.id,
                    division_code=division.code,
                )
            )
        else:
            _bump(counts, _sync(unit, division.name, division.code))
    # As create_unit does, but two flushes for a whole province rather than two per commune.
    db.session.add_all(new)
    db.session.flush()
    for unit in new:
        unit.path = f"{root.path}{unit.id}/"
    db.session.flush()
    counts.created += len(new)


def _sync(unit: Unit, name: str, code: str) -> bool:
    changed = False
    if unit.name != name:
        unit.name = name
        changed = True
    if unit.division_code != code:
        unit.division_code = code
        changed = True
    return changed


def _bump(counts: ImportCounts, changed: bool) -> None:
    if changed:
        counts.updated += 1
    else:
        counts.unchanged += 1
