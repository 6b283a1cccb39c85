"""`flask users create | set-password | deactivate`."""

from __future__ import annotations

from flask.testing import FlaskCliRunner
from sqlalchemy import func, select

from tests.factories import PASSWORD
from webapp.extensions import db
from webapp.models import AuditEvent, User

ENGLISH = {"LC_ALL": "en_US.UTF-8"}
CELL_X = "Tuyên Quang / Xã Lâm Bình / Chi bộ thôn Nà Va"


def users(runner: FlaskCliRunner, *args: str, stdin: str | None = None):
    return runner.invoke(args=["users", *args], input=stdin, env=ENGLISH)


def user_named(username: str) -> User | None:
    return db.session.scalars(select(User).where(User.username == username)).first()


def audit_actions(user: User) -> list[tuple[str, int | None]]:
    events = db.session.scalars(
        select(AuditEvent)
        .where(AuditEvent.object_type == "app_user", AuditEvent.object_id == str(user.id))
        .order_by(AuditEvent.id)
    )
    return [(event.action, event.actor_id) for event in events]


def test_create_cadre_linked_to_member_with_password_from_stdin(runner, world):
    member = world.members["binh"]
    result = users(
        runner,
        "create",
        "--username",
        "Binh.Tran",
        "--role",
        "cadre",
        "--scope",
        CELL_X,
        "--member-id",
        str(member.id),
        "--phone",
        "+84 98 765 4321",
        "--locale",
        "vi",
        "--password-stdin",
        stdin="mat-khau-moi-1\n",
    )
    assert result.exit_code == 0, result.output
    assert f"Created binh.tran (cadre, scope “{CELL_X}”)." in result.output
    user = user_named("binh.tran")
    assert user is not None
    assert (user.role, user.scope_unit_id, user.member_id) == ("cadre", world.cell_x.id, member.id)
    assert (user.full_name, user.phone, user.locale, user.active) == (
        "Trần Thị Bình",
        "0987654321",
        "vi",
        True,
    )
    assert user.check_password("mat-khau-moi-1")
    assert audit_actions(user) == [("user.create", None)]


def test_create_staff_by_division_code_with_prompted_password(runner, world):
    result = users(
        runner,
        "create",
        "--username",
        "mttq",
        "--role",
        "staff",
        "--scope",
        "08",
        "--full-name",
        "Lê Thị Thu",
        stdin="mat-khau-moi-2\nmat-khau-moi-2\n",
    )
    assert result.exit_code == 0, result.output
    user = user_named("mttq")
    assert user is not None
    assert (user.scope_unit_id, user.full_name) == (world.province.id, "Lê Thị Thu")
    assert user.check_password("mat-khau-moi-2")
    assert "mat-khau-moi-2" not in result.output


def test_create_refuses_broken_rules_and_saves_nothing(runner, world):
    count = db.session.scalar(select(func.count(User.id)))
    cases = [
        (
            ["--username", "CanBo", "--role", "staff", "--scope", "08"],
            "The username “canbo” is taken.",
        ),
        (
            [
                "--username",
                "cuong",
                "--role",
                "cadre",
                "--scope",
                CELL_X,
                "--member-id",
                str(world.members["cuong"].id),
            ],
            "Lê Văn Cường is a member of “Tuyên Quang / Xã Thượng Lâm / Chi bộ thôn Bản Khiển”, "
            "outside the account's scope",
        ),
        (
            [
                "--username",
                "an2",
                "--role",
                "cadre",
                "--scope",
                CELL_X,
                "--member-id",
                str(world.members["an"].id),
            ],
            "Nguyễn Văn An already has the account “canbo”.",
        ),
        (
            ["--username", "phone2", "--role", "staff", "--scope", "08", "--phone", "0912.345.678"],
            "The phone number 0912345678 already belongs to another account.",
        ),
        (
            ["--username", "badphone", "--role", "staff", "--scope", "08", "--phone", "12345"],
            "“12345” is not a phone number",
        ),
        (["--username", "Trần", "--role", "staff", "--scope", "08"], "A username has"),
        (
            ["--username", "nowhere", "--role", "staff", "--scope", "Tuyên Quang / Xã Không Có"],
            "There is no unit “Tuyên Quang / Xã Không Có”.",
        ),
        (
            ["--username", "ghost", "--role", "cadre", "--scope", "08", "--member-id", "999999"],
            "There is no member with id 999999.",
        ),
    ]
    for args, message in cases:
        result = users(runner, "create", *args, "--password-stdin", stdin="mat-khau-tot-1\n")
        assert result.exit_code == 1, (args, result.output)
        assert message in result.output, result.output
    assert db.session.scalar(select(func.count(User.id))) == count


def test_create_refuses_a_short_password(runner, world):
    result = users(
        runner,
        "create",
        "--username",
        "ngan",
        "--role",
        "staff",
        "--scope",
        "08",
        "--password-stdin",
        stdin="1234567\n",
    )
    assert result.exit_code == 1
    assert "The password must have at least 8 characters." in result.output
    assert user_named("ngan") is None


def test_create_rejects_unknown_role(runner, world):
    result = users(
        runner,
        "create",
        "--username",
        "x1",
        "--role",
        "boss",
        "--scope",
        "08",
        "--password-stdin",
        stdin="mat-khau-tot-1\n",
    )
    assert result.exit_code == 2


def test_set_password_replaces_it_and_ends_sessions(runner, world):
    user = world.users["staff"]
    epoch = user.session_epoch
    result = users(
        runner, "set-password", "ChuyenVien", "--password-stdin", stdin="mat-khau-moi-3\n"
    )
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    assert user.check_password("mat-khau-moi-3")
    assert not user.check_password(PASSWORD)
    assert user.session_epoch == epoch + 1
    assert audit_actions(user) == [("user.set_password", None)]


def test_set_password_refusals(runner, world):
    short = users(runner, "set-password", "chuyenvien", "--password-stdin", stdin="short\n")
    assert short.exit_code == 1
    assert "at least 8 characters" in short.output
    mismatch = users(runner, "set-password", "chuyenvien", stdin="mat-khau-1\nmat-khau-2\n")
    assert mismatch.exit_code != 0
    unknown = users(runner, "set-password", "khong-co", "--password-stdin", stdin="x" * 9 + "\n")
    assert unknown.exit_code == 1
    assert "There is no account “khong-co”." in unknown.output
    db.session.expire_all()
    assert world.users["staff"].check_password(PASSWORD)


def test_deactivate_stops_the_account_once(runner, world):
    user = world.users["cadre"]
    epoch = user.session_epoch
    first = users(runner, "deactivate", "canbo")
    assert first.exit_code == 0, first.output
    assert "canbo is deactivated." in first.output
    db.session.expire_all()
    assert (user.active, user.session_epoch) == (False, epoch + 1)
    again = users(runner, "deactivate", "canbo")
    assert again.exit_code == 0
    assert "already inactive" in again.output
    assert audit_actions(user) == [("user.deactivate", None)]
    assert users(runner, "deactivate", "khong-co").exit_code == 1
