"""Building and changing the unit tree."""

from __future__ import annotations

import re
from collections.abc import Sequence

from flask_babel import gettext as _
from sqlalchemy import func, literal, select, update

from webapp.csv_import import ErrorList, ImportCounts, Row
from webapp.extensions import db
from webapp.models import UNIT_KINDS, Unit
from webapp.scope import in_subtree
from webapp.tallies import rollup
from webapp.text import fold


def create_unit(
    name: str, kind: str, parent: Unit | None = None, division_code: str | None = None
) -> Unit:
    """Add a unit under `parent`; its materialized path needs its id, so flush first."""
    unit = Unit(name=name, kind=kind, parent=parent, division_code=division_code)
    db.session.add(unit)
    db.session.flush()
    unit.path = f"{parent.path if parent else '/'}{unit.id}/"
    db.session.flush()
    return unit


class MoveError(ValueError):
    """A refused move, with a message in the user's language."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def move_unit(unit: Unit, new_parent: Unit) -> None:
    """Move `unit` and its whole subtree under `new_parent`; the caller commits.

    Past activities stay with the units that held them; the tallies of the ancestors the
    subtree leaves and joins change in the same transaction.
    """
    if new_parent.path.startswith(unit.path):
        raise MoveError(_("A unit cannot be moved into itself or into a unit below it."))
    if unit.parent_id == new_parent.id:
        return
    clash = find_child(new_parent, unit.name)
    if clash is not None:
        raise MoveError(
            _(
                "%(parent)s already has a unit named %(name)s.",
                parent=new_parent.name,
                name=unit.name,
            )
        )
    db.session.flush()
    old_path, new_path = unit.path, f"{new_parent.path}{unit.id}/"
    db.session.execute(
        update(Unit)
        .where(in_subtree(Unit.path, old_path))
        .values(path=literal(new_path) + func.substr(Unit.path, len(old_path) + 1))
        .execution_options(synchronize_session=False)
    )
    db.session.execute(
        update(Unit)
        .where(Unit.id == unit.id)
        .values(parent_id=new_parent.id)
        .execution_options(synchronize_session=False)
    )
    for obj in db.session.identity_map.values():
        if isinstance(obj, Unit):
            db.session.expire(obj)
    # The tally lock only now, after the unit rows: a push or review holds a key-share lock on
    # its entry's unit (the FK of the rows it inserts) before it asks for the tally lock at
    # commit, and parent_id is in a unique key, so changing it needs that row exclusively.
    rollup.lock_tallies("SHARE ROW EXCLUSIVE")
    rollup.move_subtree(unit.id, old_path, new_path)


# -- Finding units by the references people write in spreadsheets and on the command line --

PATH_SEPARATOR = " / "
_PATH_SPLIT = re.compile(r"\s+/\s+")
NAME_MAX = 160
CODE_MAX = 16


def find_child(parent: Unit | None, name: str) -> Unit | None:
    """The unit called `name` under `parent` (a root if None): exact name, else a unique
    diacritic-insensitive match, so 'Xa Lam Binh' finds 'Xã Lâm Bình'."""
    under = Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id
    exact = db.session.scalars(
        select(Unit).where(under, Unit.name == name).order_by(Unit.id).limit(1)
    ).first()
    if exact is not None:
        return exact
    folded = db.session.scalars(
        select(Unit).where(under, Unit.search_name == fold(name)).limit(2)
    ).all()
    return folded[0] if len(folded) == 1 else None


def find_unit(ref: str) -> Unit | None:
    """A unit by division code ('08', '02266') or by name path from the root
    ('Tuyên Quang / Xã Lâm Bình')."""
    ref = ref.strip()
    if not ref:
        return None
    if ref.isdigit():
        by_code = db.session.scalars(select(Unit).where(Unit.division_code == ref)).first()
        if by_code is not None:
            return by_code
    unit: Unit | None = None
    for part in _PATH_SPLIT.split(ref):
        unit = find_child(unit, part.strip())
        if unit is None:
            return None
    return unit


def unit_label(unit: Unit) -> str:
    """'Tuyên Quang / Xã Lâm Bình / Chi bộ thôn Nà Va': the name path people recognise."""
    ids = unit.ancestor_ids or [unit.id]
    rows = db.session.execute(select(Unit.id, Unit.name).where(Unit.id.in_(ids)))
    names = {unit_id: name for unit_id, name in rows}
    return PATH_SEPARATOR.join(names[i] for i in ids if i in names)


class UnitFinder:
    """`find_unit` with a memory, for imports that name the same parent on many rows.

    Only successful look-ups are remembered: a unit created further down the file
    must still be found once it exists.
    """

    def __init__(self) -> None:
        self._found: dict[str, Unit] = {}

    def __call__(self, ref: str) -> Unit | None:
        key = ref.strip()
        unit = self._found.get(key)
        if unit is None:
            unit = find_unit(key)
            if unit is not None:
                self._found[key] = unit
        return unit


def missing_unit_message(ref: str) -> str:
    return _(
        "no unit “%(ref)s”: give a division code or a name path from the top, "
        "such as “Tuyên Quang / Xã Lâm Bình”",
        ref=ref,
    )


# -- Importing units from a spreadsheet --------------------------------------------------

UNIT_COLUMNS = ("name", "kind", "parent", "division_code")


def import_units(rows: Sequence[Row]) -> ImportCounts:
    """Create the units of `rows` in order (a row may name a unit made on an earlier row).

    A unit is identified by (parent, name): an existing one with the same kind and code is
    unchanged, a different kind is updated, a missing division code is filled in. Every row is
    checked; if any is wrong, `ImportFailed` lists them all and the caller rolls back.
    """
    errors = ErrorList()
    counts = ImportCounts()
    find = UnitFinder()
    seen_units: dict[tuple[int | None, str], int] = {}
    seen_codes: dict[str, int] = {}
    failed: dict[str, int] = {}  # references to units on rows with errors -> line
    for row in rows:
        before = len(errors.errors)
        name, kind, parent_ref, code = row["name"], row["kind"], row["parent"], row["division_code"]
        _check_unit_fields(row.line, name, kind, code, errors)
        if code and code in seen_codes:
            errors.add(
                row.line,
                "division_code",
                _(
                    "division code %(code)s is also on line %(other)d",
                    code=code,
                    other=seen_codes[code],
                ),
            )
        parent = find(parent_ref) if parent_ref else None
        if parent_ref and parent is None:
            if parent_ref.strip() in failed:
                errors.add(
                    row.line,
                    "parent",
                    _(
                        "the parent unit is on line %(other)d, which has errors",
                        other=failed[parent_ref.strip()],
                    ),
                )
            else:
                errors.add(row.line, "parent", missing_unit_message(parent_ref))
        key = (parent.id if parent else None, name)
        known_place = parent is not None or not parent_ref
        if name and known_place and key in seen_units:
            errors.add(
                row.line,
                "name",
                _("the same unit is already on line %(other)d", other=seen_units[key]),
            )
        if len(errors.errors) == before:
            outcome = _apply_unit_row(row.line, name, kind, parent, code or None, errors)
            if outcome is not None:
                setattr(counts, outcome, getattr(counts, outcome) + 1)
        if code:
            seen_codes.setdefault(code, row.line)
        if name and known_place:
            seen_units.setdefault(key, row.line)
        if len(errors.errors) > before:
            path = f"{parent_ref.strip()}{PATH_SEPARATOR}{name}" if parent_ref else name
            for ref in (path, code):
                if ref:
                    failed.setdefault(ref, row.line)
    errors.raise_if_any()
    return counts


def _check_unit_fields(line: int, name: str, kind: str, code: str, errors: ErrorList) -> None:
    if not name:
        errors.add(line, "name", _("the name is empty"))
    elif len(name) > NAME_MAX:
        errors.add(line, "name", _("the name is longer than %(max)d characters", max=NAME_MAX))
    if kind not in UNIT_KINDS:
        errors.add(
            line,
            "kind",
            _(
                "unknown kind “%(kind)s”; use one of: %(kinds)s",
                kind=kind,
                kinds=", ".join(UNIT_KINDS),
            ),
        )
    if code and not (code.isdigit() and len(code) <= CODE_MAX):
        errors.add(
            line,
            "division_code",
            _("a division code is digits only, at most %(max)d", max=CODE_MAX),
        )


def _apply_unit_row(
    line: int, name: str, kind: str, parent: Unit | None, code: str | None, errors: ErrorList
) -> str | None:
    """Create or update one checked row; 'created', 'updated', 'unchanged' or None (error)."""
    under = Unit.parent_id.is_(None) if parent is None else Unit.parent_id == parent.id
    existing = db.session.scalars(
        select(Unit).where(under, Unit.name == name).order_by(Unit.id).limit(1)
    ).first()
    holder = (
        db.session.scalars(select(Unit).where(Unit.division_code == code)).first() if code else None
    )
    if holder is not None and holder is not existing:
        errors.add(
            line,
            "division_code",
            _(
                "division code %(code)s already belongs to “%(unit)s”",
                code=code,
                unit=unit_label(holder),
            ),
        )
        return None
    if existing is None:
        create_unit(name, kind, parent, code)
        return "created"
    if code and existing.division_code and existing.division_code != code:
        errors.add(
            line,
            "division_code",
            _(
                "“%(unit)s” already has division code %(code)s",
                unit=unit_label(existing),
                code=existing.division_code,
            ),
        )
        return None
    changed = False
    if existing.kind != kind:
        old_kind, existing.kind = existing.kind, kind
        rollup.unit_kind_changed(existing.id, old_kind, kind)
        changed = True
    if code and existing.division_code != code:
        existing.division_code = code
        changed = True
    if changed:
        db.session.flush()
        return "updated"
    return "unchanged"
