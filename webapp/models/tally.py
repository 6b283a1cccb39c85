"""Tallies (DESIGN.md §7): the rollup tables and the targets they are measured against.

The three rollup tables are derived data: `webapp.tallies.rollup` keeps them in step with the
raw rows in the same transaction as every change, and `flask tallies verify|rebuild` checks and
repairs them. Months are integers YYYYMM.

- `TallyMonth`: sums per *subtree* — one row per (ancestor unit, month, status, kind, programme)
  for every ancestor of the holding unit, itself included — so any unit's figures are read from
  its own rows whatever the size of its subtree.
- `TallyPresence`: who was there: a member (entity 'M') or a holding unit (entity 'U') with
  confirmed activities in a month, per holding unit, kind and programme.
- `TallyReach`: distinct counts per subtree and slice (all activities; one kind; one
  programme; one kind and programme), pre-aggregated. For every entity present in a subtree
  and slice in `month`, `prev_month` is its previous month of presence there (0 if none) and
  `run_start` the first month of its unbroken run of months. Then, for months a..b:
  distinct entities = Σn where a ≤ month ≤ b and prev_month < a;
  present every month = Σn where month = b and run_start ≤ a.
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from webapp.models.base import Base
from webapp.models.unit import Unit

TALLY_STATUSES = ("confirmed", "submitted")


class TallyMonth(Base):
    __tablename__ = "tally_month"
    __table_args__ = (CheckConstraint("status IN ('confirmed','submitted')", name="status"),)

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    status: Mapped[str] = mapped_column(String(16), primary_key=True)
    kind_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no programme
    activities: Mapped[int] = mapped_column(Integer, default=0)
    unit_activities: Mapped[int] = mapped_column(Integer, default=0)
    participations: Mapped[int] = mapped_column(Integer, default=0)
    people_reached: Mapped[int] = mapped_column(Integer, default=0)
    households_reached: Mapped[int] = mapped_column(Integer, default=0)


class TallyPresence(Base):
    __tablename__ = "tally_presence"
    __table_args__ = (
        CheckConstraint("entity IN ('M','U')", name="entity"),
        Index("ix_tally_presence_unit_id_month", "unit_id", "month"),
    )

    entity: Mapped[str] = mapped_column(String(1), primary_key=True)
    entity_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


class TallyReach(Base):
    __tablename__ = "tally_reach"

    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(1), primary_key=True)
    # The slice (webapp.tallies.reach): -1 takes every kind / every programme; 0 is "no
    # programme", as in the other tables.
    kind_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    program_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    month: Mapped[int] = mapped_column(Integer, primary_key=True)
    prev_month: Mapped[int] = mapped_column(Integer, primary_key=True)
    run_start: Mapped[int] = mapped_column(Integer, primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


# What an indicator measures; share metrics are percentages of the subtree's holding units.
METRICS = (
    "activities",
    "unit_activities",
    "participations",
    "members_engaged",
    "people_reached",
    "households_reached",
    "active_units_share",
    "active_every_month_share",
)
# A target is stated per year, per quarter or per month of the year.
PERIODS = ("year", "quarter", "month")


class IndicatorGroup(Base):
    __tablename__ = "indicator_group"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    sort_order: Mapped[int] = mapped_column(Integer, default=0)

    indicators: Mapped[list[Indicator]] = relationship(
        back_populates="group", order_by="Indicator.sort_order"
    )

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_vi


class Indicator(Base):
    __tablename__ = "indicator"
    __table_args__ = (
        CheckConstraint(
            "metric IN ('activities','unit_activities','participations','members_engaged',"
            "'people_reached','households_reached','active_units_share',"
            "'active_every_month_share')",
            name="metric",
        ),
        CheckConstraint("period IN ('year','quarter','month')", name="period"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("indicator_group.id"), index=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name_vi: Mapped[str] = mapped_column(String(200))
    name_en: Mapped[str] = mapped_column(String(200))
    metric: Mapped[str] = mapped_column(String(32))
    period: Mapped[str] = mapped_column(String(8), default="year")
    sort_order: Mapped[int] = mapped_column(Integer, default=0)
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    group: Mapped[IndicatorGroup] = relationship(back_populates="indicators")

    def name(self, locale: str) -> str:
        return self.name_en if locale == "en" and self.name_en else self.name_vi


class Target(Base):
    """What a unit aims for on an indicator in a year (per the indicator's period)."""

    __tablename__ = "target"
    __table_args__ = (CheckConstraint("value >= 0", name="value"),)

    indicator_id: Mapped[int] = mapped_column(
        ForeignKey("indicator.id", ondelete="CASCADE"), primary_key=True
    )
    unit_id: Mapped[int] = mapped_column(ForeignKey("unit.id"), primary_key=True, index=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    value: Mapped[float] = mapped_column(Float)

    indicator: Mapped[Indicator] = relationship()
    unit: Mapped[Unit] = relationship()
