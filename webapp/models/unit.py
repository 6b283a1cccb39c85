"""The organisation tree: province, commune, committee, cell, front, association, ..."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from webapp.models.base import Base, PathString
from webapp.text import fold

UNIT_KINDS = ("province", "district", "commune", "committee", "cell", "front", "association")
# Activities of these units count as 'lượt chi bộ, đảng bộ cơ sở' (DESIGN.md §7).
CELL_KINDS = ("cell", "committee")
# Units that hold activities themselves: the denominator of "share of units active".
HOLDING_KINDS = ("committee", "cell", "front", "association")


class Unit(Base):
    __tablename__ = "unit"
    __table_args__ = (
        UniqueConstraint("parent_id", "name"),
        CheckConstraint(
            "kind IN ('province','district','commune','committee','cell','front','association')",
            name="kind",
        ),
        Index("ix_unit_search_name", "search_name"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("unit.id"), index=True)
    # '/1/12/345/': ancestors' ids then its own; a subtree is every path with this prefix.
    # Set right after the row gets its id (units.services.create_unit), hence not unique here.
    path: Mapped[str] = mapped_column(PathString, index=True, default="")
    name: Mapped[str] = mapped_column(String(160))
    search_name: Mapped[str] = mapped_column(String(160), default="")
    kind: Mapped[str] = mapped_column(String(16))
    division_code: Mapped[str | None] = mapped_column(String(16), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    parent: Mapped[Unit | None] = relationship(remote_side=[id])

    @validates("name")
    def _keep_search_name(self, _key: str, value: str) -> str:
        self.search_name = fold(value)
        return value

    @property
    def depth(self) -> int:
        return self.path.count("/") - 1

    @property
    def ancestor_ids(self) -> list[int]:
        return [int(part) for part in self.path.strip("/").split("/") if part]

    def __repr__(self) -> str:
        return f"<Unit {self.id} {self.path} {self.name!r}>"
