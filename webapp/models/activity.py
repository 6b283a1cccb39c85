"""An activity with the people, who took part in it, and its photos."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Base, utcnow
from webapp.models.member import Member
from webapp.models.reference import ActivityKind, Program
from webapp.models.unit import Unit

STATUSES = ("submitted", "confirmed", "returned")


class Activity(Base):
    __tablename__ = "activity"
    __table_args__ = (
        CheckConstraint("status IN ('submitted','confirmed','returned')", name="status"),
        CheckConstraint("revision >= 1", name="revision"),
        CheckConstraint(
            "people_reached >= 0 AND households_reached >= 0 AND photos_expected >= 0",
            name="counts",
        ),
        Index("ix_activity_unit_id_occurred_on", "unit_id", "occurred_on"),
        Index("ix_activity_status_occurred_on", "status", "occurred_on"),
        Index("ix_activity_created_by_occurred_on", "created_by_id", "occurred_on"),
    )

    # The client's crypto.randomUUID(): the same entry can never become two rows.
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    kind_id: Mapped[int] = mapped_column(ForeignKey("activity_kind.id"), index=True)
    program_id: Mapped[int | None] = mapped_column(ForeignKey("program.id"), index=True)
    occurred_on: Mapped[date] = mapped_column(Date, index=True)
    # Place: the commune's official code, the village by name, and GPS if the phone had it.
    division_code: Mapped[str | None] = mapped_column(String(16))
    village: Mapped[str | None] = mapped_column(String(120))
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    accuracy_m: Mapped[float | None] = mapped_column(Float)
    summary: Mapped[str] = mapped_column(String(500))
    notes: Mapped[str | None] = mapped_column(Text)
    people_reached: Mapped[int] = mapped_column(Integer, default=0)
    households_reached: Mapped[int] = mapped_column(Integer, default=0)
    photos_expected: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    revision: Mapped[int] = mapped_column(Integer, default=1)
    content_hash: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("app_user.id"))
    device_id: Mapped[str | None] = mapped_column(String(64))
    captured_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), default=utcnow, onupdate=utcnow
    )
    reviewed_by_id: Mapped[int | None] = mapped_column(ForeignKey("app_user.id"))
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    review_note: Mapped[str | None] = mapped_column(String(500))

    unit: Mapped[Unit] = relationship()
    kind: Mapped[ActivityKind] = relationship()
    program: Mapped[Program | None] = relationship()
    participations: Mapped[list[Participation]] = relationship(
        back_populates="activity", cascade="all, delete-orphan"
    )
    photos: Mapped[list[Photo]] = relationship(
        back_populates="activity", cascade="all, delete-orphan"
    )

    def __repr__(self) -> str:
        return f"<Activity {self.id} {self.status} r{self.revision}>"


class Participation(Base):
    """A member took part in an activity; the primary key makes them count once."""

    __tablename__ = "participation"

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    member_id: Mapped[int] = mapped_column(ForeignKey("member.id"), primary_key=True, index=True)

    activity: Mapped[Activity] = relationship(back_populates="participations")
    member: Mapped[Member] = relationship()


class Photo(Base):
    __tablename__ = "photo"
    __table_args__ = (CheckConstraint("width > 0 AND height > 0 AND bytes > 0", name="size"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True)
    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), index=True
    )
    sha256: Mapped[str] = mapped_column(String(64))
    content_type: Mapped[str] = mapped_column(String(40))
    width: Mapped[int] = mapped_column(Integer)
    height: Mapped[int] = mapped_column(Integer)
    bytes: Mapped[int] = mapped_column(Integer)
    taken_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    display_key: Mapped[str] = mapped_column(String(200))
    thumb_key: Mapped[str] = mapped_column(String(200))
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    activity: Mapped[Activity] = relationship(back_populates="photos")


class ActivityRevision(Base):
    """What an entry said before it was changed: the history a reviewer can look back on."""

    __tablename__ = "activity_revision"

    activity_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("activity.id", ondelete="CASCADE"), primary_key=True
    )
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16))
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    review_note: Mapped[str | None] = mapped_column(String(500))
    replaced_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
