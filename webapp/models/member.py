"""The roster: cadres, party members and association members of a unit."""

from __future__ import annotations

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from webapp.models.base import Base
from webapp.models.unit import Unit
from webapp.text import fold


class Member(Base):
    __tablename__ = "member"
    __table_args__ = (Index("ix_member_unit_id_search_name", "unit_id", "search_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"))
    full_name: Mapped[str] = mapped_column(String(120))
    search_name: Mapped[str] = mapped_column(String(120), default="")
    is_party_member: Mapped[bool] = mapped_column(Boolean, default=True)
    position: Mapped[str | None] = mapped_column(String(120))
    phone: Mapped[str | None] = mapped_column(String(20))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    unit: Mapped[Unit] = relationship()

    @validates("full_name")
    def _keep_search_name(self, _key: str, value: str) -> str:
        self.search_name = fold(value)
        return value

    def __repr__(self) -> str:
        return f"<Member {self.id} {self.full_name!r}>"
