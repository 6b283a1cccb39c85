"""Reading accounts for the admin pages: the list, one account, members to give an account to.

Every query starts from the scope module's units: an administrator sees the accounts whose
scope unit lies inside their own subtree, and the members of that subtree - nothing else.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, exists, func, or_, select
from sqlalchemy.orm import joinedload
from wtforms.fields.choices import SelectChoice

from webapp import scope
from webapp.auth.services import normalise_phone
from webapp.extensions import db
from webapp.models import ROLES, Member, Unit, User
from webapp.text import fold
from webapp.units.services import unit_label

PER_PAGE = 50
MEMBER_MATCHES = 20
STATUSES = ("active", "inactive")
_NOT_USERNAME_CHARS = re.compile(r"[^a-z0-9]+")


@dataclass(frozen=True)
class AccountFilters:
    q: str = ""
    role: str | None = None
    status: str | None = None  # "active", "inactive" or None for both
    page: int = 1

    @classmethod
    def from_args(cls, args: dict[str, str]) -> AccountFilters:
        page = args.get("page", "")
        role = args.get("role", "")
        status = args.get("status", "")
        return cls(
            q=args.get("q", "").strip()[:100],
            role=role if role in ROLES else None,
            status=status if status in STATUSES else None,
            page=int(page) if page.isdigit() and len(page) < 7 and int(page) > 0 else 1,
        )


@dataclass(frozen=True)
class AccountPage:
    accounts: list[User]
    total: int
    page: int
    pages: int


def accounts_in_scope(actor: User) -> Select[tuple[User]]:
    """Accounts whose scope unit is inside the actor's subtree."""
    return select(User).where(User.scope_unit_id.in_(scope.unit_ids(actor)))


def _text_match(q: str, folded_column: ColumnElement[str]) -> ColumnElement[bool] | None:
    """Name (without marks), username or phone digits containing what was typed."""
    folded = fold(q)
    if not folded:
        return None
    conditions = [
        folded_column.contains(folded, autoescape=True),
        func.lower(User.username).contains(folded.replace(" ", ""), autoescape=True),
    ]
    digits = normalise_phone(q)
    if len(digits) >= 3 and len(digits) * 2 >= len(q.replace(" ", "")):
        conditions.append(User.phone.contains(digits, autoescape=True))
    return or_(*conditions)


def account_page(actor: User, filters: AccountFilters) -> AccountPage:
    query = accounts_in_scope(actor)
    if filters.q and (match := _text_match(filters.q, User.search_name)) is not None:
        query = query.where(match)
    if filters.role:
        query = query.where(User.role == filters.role)
    if filters.status:
        query = query.where(User.active.is_(filters.status == "active"))
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    pages = max(1, math.ceil(total / PER_PAGE))
    page = min(filters.page, pages)
    accounts = db.session.scalars(
        query.options(joinedload(User.scope_unit))
        .order_by(User.search_name, User.username)
        .limit(PER_PAGE)
        .offset((page - 1) * PER_PAGE)
    ).all()
    return AccountPage(list(accounts), total, page, pages)


def visible_account(actor: User, user_id: int) -> User | None:
    """The account if the actor may see it; None (shown as 404) otherwise."""
    return db.session.scalars(accounts_in_scope(actor).where(User.id == user_id)).first()


def members_without_account(actor: User, q: str) -> list[Member]:
    """Active members of the actor's subtree who have no account yet, matching `q`."""
    has_account = exists().where(User.member_id == Member.id)
    query = scope.members(actor).where(Member.active.is_(True), ~has_account)
    folded = fold(q)
    if folded:
        conditions = [Member.search_name.contains(folded, autoescape=True)]
        digits = normalise_phone(q)
        if len(digits) >= 3:
            conditions.append(Member.phone.contains(digits, autoescape=True))
        query = query.where(or_(*conditions))
    return list(
        db.session.scalars(
            query.options(joinedload(Member.unit))
            .order_by(Member.search_name, Member.id)
            .limit(MEMBER_MATCHES)
        )
    )


def visible_member(actor: User, member_id: int) -> Member | None:
    return db.session.scalars(scope.members(actor).where(Member.id == member_id)).first()


def suggest_username(member: Member) -> str:
    """'Nguyễn Văn An' -> 'an.nv' (given name, then the initials before it), made unique
    with a number: 'an.nv2', 'an.nv3', ..."""
    words = _NOT_USERNAME_CHARS.sub(" ", fold(member.full_name)).split()
    if not words:
        base = f"member{member.id}"
    elif len(words) == 1:
        base = words[0]
    else:
        base = f"{words[-1]}.{''.join(w[0] for w in words[:-1])}"
    base = base[:56]
    if len(base) < 2:
        base = f"{base}{member.id}"
    taken = set(
        db.session.scalars(
            select(func.lower(User.username)).where(func.lower(User.username).startswith(base))
        )
    )
    if base not in taken:
        return base
    n = 2
    while f"{base}{n}" in taken:
        n += 1
    return f"{base}{n}"


def scope_choices(actor: User, *units: Unit | None) -> list[SelectChoice]:
    """Units to offer as an account's scope: each given unit and its ancestors, from the
    actor's own scope unit down (never above it). Other units are typed by code or path."""
    ids: set[int] = {actor.scope_unit_id}
    for unit in units:
        if unit is not None and scope.is_within(unit, actor.scope_unit):
            ids.update(i for i in unit.ancestor_ids if i != 0)
    rows = db.session.scalars(
        select(Unit).where(Unit.id.in_(ids), scope.in_subtree(Unit.path, actor.scope_unit.path))
    ).all()
    return [SelectChoice(u.id, unit_label(u)) for u in sorted(rows, key=lambda u: u.path)]
