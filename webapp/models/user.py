"""Accounts. Most members never sign in; a user may be linked to their roster entry."""

from __future__ import annotations

from datetime import datetime

from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import Boolean, CheckConstraint, DateTime, ForeignKey, Integer, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates
from werkzeug.security import check_password_hash, generate_password_hash

from webapp.models.base import Base, BigId, utcnow
from webapp.models.member import Member
from webapp.models.unit import Unit
from webapp.text import fold


def hash_password(password: str) -> str:
    """Werkzeug's scrypt; the cost is configurable so the test suite need not pay it."""
    method = current_app.config["PASSWORD_HASH_METHOD"] if has_app_context() else "scrypt"
    return generate_password_hash(password, method=method)


ROLES = ("cadre", "secretary", "staff", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}


class User(UserMixin, Base):
    __tablename__ = "app_user"
    __table_args__ = (
        CheckConstraint("role IN ('cadre','secretary','staff','admin')", name="role"),
        CheckConstraint("locale IS NULL OR locale IN ('vi','en')", name="locale"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(String(20), unique=True)
    full_name: Mapped[str] = mapped_column(String(120))
    # fold(full_name): the admin list finds "Nguyễn Văn An" when "nguyen van an" is typed.
    search_name: Mapped[str] = mapped_column(String(120), default="", server_default="")
    password_hash: Mapped[str] = mapped_column(String(255))
    member_id: Mapped[int | None] = mapped_column(ForeignKey("member.id"), index=True)
    role: Mapped[str] = mapped_column(String(16))
    scope_unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), index=True)
    locale: Mapped[str | None] = mapped_column(String(5))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # Bumped when the password changes or the account is deactivated: old sessions stop working.
    session_epoch: Mapped[int] = mapped_column(Integer, default=0)
    # Set when an administrator gives the account a temporary password: until the person
    # chooses their own, every page leads to the change-password page.
    must_change_password: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false()
    )
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    member: Mapped[Member | None] = relationship()
    scope_unit: Mapped[Unit] = relationship()

    @validates("full_name")
    def _keep_search_name(self, _key: str, value: str) -> str:
        self.search_name = fold(value)
        return value

    def set_password(self, password: str) -> None:
        self.password_hash = hash_password(password)
        self.session_epoch = (self.session_epoch or 0) + 1

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    def get_id(self) -> str:
        return f"{self.id}:{self.session_epoch}"

    @property
    def is_active(self) -> bool:
        return self.active

    def has_role(self, minimum: str) -> bool:
        return ROLE_RANK[self.role] >= ROLE_RANK[minimum]

    def __repr__(self) -> str:
        return f"<User {self.username} {self.role}>"


class UserSession(Base):
    """One signed-in browser or phone. The session cookie names it by a random token (only the
    token's hash is kept), so signing out ends it for good, even for a copy of the cookie: a
    signed cookie alone cannot be taken back."""

    __tablename__ = "user_session"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("app_user.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    # The account's session epoch at sign-in: a password change or a deactivation moves the
    # account's epoch, which ends this session without touching the row.
    epoch: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    # Moved at most once an hour (webapp.auth.sessions): enough to end idle sessions.
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    user_agent: Mapped[str | None] = mapped_column(String(200))
