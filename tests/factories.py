"""Data factories for tests: small, explicit, committed so every connection sees them."""

from __future__ import annotations

import functools
import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import date

from flask import current_app
from werkzeug.security import generate_password_hash

from webapp.extensions import db
from webapp.models import Activity, ActivityKind, Member, Participation, Program, Unit, User
from webapp.tallies import rollup
from webapp.units.services import create_unit

PASSWORD = "mat-khau-thu-nghiem"


@functools.cache
def _password_hash(method: str) -> str:
    return generate_password_hash(PASSWORD, method=method)


def make_member(unit: Unit, full_name: str = "Nguyễn Văn An", **kwargs: object) -> Member:
    member = Member(unit=unit, full_name=full_name, **kwargs)
    db.session.add(member)
    db.session.flush()
    return member


def make_user(
    username: str,
    role: str,
    scope_unit: Unit,
    *,
    password: str = PASSWORD,
    member: Member | None = None,
    phone: str | None = None,
    full_name: str | None = None,
    active: bool = True,
) -> User:
    user = User(
        username=username,
        role=role,
        scope_unit=scope_unit,
        member=member,
        phone=phone,
        full_name=full_name or (member.full_name if member else username),
        active=active,
    )
    if password == PASSWORD:
        user.password_hash = _password_hash(
            current_app.config["PASSWORD_HASH_METHOD"]
        )  # scrypt is slow on purpose; hash once per run
    else:
        user.set_password(password)
    db.session.add(user)
    db.session.flush()
    return user


def make_kind(
    code: str = "home_visit", name_vi: str = "Thăm hộ gia đình", name_en: str = "Home visit"
) -> ActivityKind:
    kind = ActivityKind(code=code, name_vi=name_vi, name_en=name_en)
    db.session.add(kind)
    db.session.flush()
    return kind


def make_program(
    code: str = "xoa_nha_tam",
    name_vi: str = "Xóa nhà tạm, nhà dột nát",
    name_en: str = "Replacing makeshift houses",
) -> Program:
    program = Program(code=code, name_vi=name_vi, name_en=name_en)
    db.session.add(program)
    db.session.flush()
    return program


def make_activity(
    unit: Unit,
    kind: ActivityKind,
    created_by: User,
    *,
    occurred_on: date,
    status: str = "submitted",
    participants: tuple[Member, ...] = (),
    summary: str = "Thăm hỏi hộ gia đình",
    people_reached: int = 0,
    households_reached: int = 0,
    program: Program | None = None,
) -> Activity:
    activity_id = uuid.uuid4()
    activity = Activity(
        id=activity_id,
        unit=unit,
        kind=kind,
        program=program,
        occurred_on=occurred_on,
        summary=summary,
        status=status,
        people_reached=people_reached,
        households_reached=households_reached,
        content_hash=hashlib.sha256(activity_id.bytes).hexdigest(),
        created_by_id=created_by.id,
    )
    activity.participations = [Participation(member=m) for m in participants]
    db.session.add(activity)
    db.session.flush()
    rollup.watch_new([activity_id])  # as the sync push does: the tallies follow at commit
    return activity


@dataclass
class World:
    province: Unit
    commune_x: Unit
    commune_y: Unit
    cell_x: Unit
    cell_y: Unit
    kind: ActivityKind
    program: Program
    users: dict[str, User] = field(default_factory=dict)
    members: dict[str, Member] = field(default_factory=dict)


def build_world() -> World:
    province = create_unit("Tuyên Quang", "province", division_code="08")
    commune_x = create_unit("Xã Lâm Bình", "commune", province, division_code="02266")
    commune_y = create_unit("Xã Thượng Lâm", "commune", province, division_code="02269")
    cell_x = create_unit("Chi bộ thôn Nà Va", "cell", commune_x)
    cell_y = create_unit("Chi bộ thôn Bản Khiển", "cell", commune_y)
    world = World(province, commune_x, commune_y, cell_x, cell_y, make_kind(), make_program())
    world.members["an"] = make_member(cell_x, "Nguyễn Văn An", phone="0912345678")
    world.members["binh"] = make_member(cell_x, "Trần Thị Bình")
    world.members["cuong"] = make_member(cell_y, "Lê Văn Cường")
    world.users["cadre"] = make_user(
        "canbo", "cadre", cell_x, member=world.members["an"], phone="0912345678"
    )
    world.users["secretary_x"] = make_user("bithu.x", "secretary", commune_x)
    world.users["secretary_y"] = make_user("bithu.y", "secretary", commune_y)
    world.users["staff"] = make_user("chuyenvien", "staff", province)
    world.users["admin"] = make_user("quantri", "admin", province)
    db.session.commit()
    return world
