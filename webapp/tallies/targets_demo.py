"""The default indicators, and demo targets that some units meet and others do not.

The indicators follow what dân vận programme reports count: party cells' activities with the
people and how regularly cells hold them, how many cadres and party members take part, how
many people and households are reached, and how widespread the movement is. The demo's
targets are derived from its own figures (with a seeded generator), so whatever the number of
activities loaded, some groups are met and some are not.
"""

from __future__ import annotations

import math
import random
from typing import NamedTuple

from sqlalchemy import select

from webapp.extensions import db
from webapp.models import HOLDING_KINDS, Indicator, IndicatorGroup, Target, Unit
from webapp.tallies.query import tally
from webapp.tallies.targets import (
    SHARE_METRICS,
    check_target_value,
    create_group,
    create_indicator,
    measure,
    periods_elapsed,
)


class GroupSpec(NamedTuple):
    code: str
    name_vi: str
    name_en: str


class IndicatorSpec(NamedTuple):
    group: str
    code: str
    name_vi: str
    name_en: str
    metric: str
    period: str


# fmt: off
DEFAULT_GROUPS: tuple[GroupSpec, ...] = (
    GroupSpec("sinh_hoat_chi_bo", "Sinh hoạt chi bộ", "Party cell activities"),
    GroupSpec("dang_vien_tham_gia", "Đảng viên tham gia", "Party members taking part"),
    GroupSpec("tiep_can_nhan_dan", "Tiếp cận người dân", "Reaching the people"),
    GroupSpec("phong_trao", "Phong trào", "Movements"),
)
DEFAULT_INDICATORS: tuple[IndicatorSpec, ...] = (
    IndicatorSpec("sinh_hoat_chi_bo", "chi_bo_hoat_dong_quy",
                  "Lượt hoạt động của chi bộ, đảng bộ cơ sở với Nhân dân mỗi quý",
                  "Cell and committee activities with the people per quarter",
                  "unit_activities", "quarter"),
    IndicatorSpec("sinh_hoat_chi_bo", "chi_bo_hoat_dong_hang_thang",
                  "Tỷ lệ chi bộ có hoạt động với Nhân dân hằng tháng (%)",
                  "Share of cells active with the people every month (%)",
                  "active_every_month_share", "year"),
    IndicatorSpec("dang_vien_tham_gia", "luot_dang_vien_tham_gia",
                  "Lượt cán bộ, đảng viên tham gia trong năm",
                  "Cadre and party member participations per year",
                  "participations", "year"),
    IndicatorSpec("dang_vien_tham_gia", "dang_vien_tham_gia",
                  "Số cán bộ, đảng viên tham gia hoạt động trong năm",
                  "Cadres and party members taking part per year",
                  "members_engaged", "year"),
    IndicatorSpec("tiep_can_nhan_dan", "luot_nguoi_dan",
                  "Lượt người dân được tiếp cận trong năm", "People reached per year",
                  "people_reached", "year"),
    IndicatorSpec("tiep_can_nhan_dan", "luot_ho_dan",
                  "Lượt hộ gia đình được tiếp cận trong năm", "Households reached per year",
                  "households_reached", "year"),
    IndicatorSpec("phong_trao", "hoat_dong_trong_nam",
                  "Số hoạt động với Nhân dân trong năm", "Activities with the people per year",
                  "activities", "year"),
    IndicatorSpec("phong_trao", "don_vi_co_hoat_dong",
                  "Tỷ lệ chi bộ, tổ chức có hoạt động (%)", "Share of units active (%)",
                  "active_units_share", "year"),
)
# fmt: on
# The province's groups that the demo meets: the others it does not, so the page shows both.
# (Few cells are active every month in the demo, so the cell group is a stretch.)
PROVINCE_MET = frozenset({"dang_vien_tham_gia", "tiep_can_nhan_dan"})
COMMUNE_MET_CHANCE = 0.55


def ensure_default_indicators() -> dict[str, Indicator]:
    """Create the default groups and indicators that are missing (matched by code); returns
    every indicator by code. Existing ones are left as an administrator made them."""
    groups = {g.code: g for g in db.session.scalars(select(IndicatorGroup))}
    for order, spec in enumerate(DEFAULT_GROUPS):
        if spec.code not in groups:
            groups[spec.code] = create_group(
                None, code=spec.code, name_vi=spec.name_vi, name_en=spec.name_en, sort_order=order
            )
    indicators = {i.code: i for i in db.session.scalars(select(Indicator))}
    for order, item in enumerate(DEFAULT_INDICATORS):
        if item.code not in indicators:
            indicators[item.code] = create_indicator(
                None,
                group=groups[item.group],
                code=item.code,
                name_vi=item.name_vi,
                name_en=item.name_en,
                metric=item.metric,
                period=item.period,
                sort_order=order,
            )
    return indicators


def seed_demo_targets(
    root_unit: Unit, year: int, *, last_month: int | None = None, seed: int = 0
) -> int:
    """Targets for `year` for the root unit and each of its non-holding children (communes),
    set from their figures January..last_month (YYYYMM, default December) so that the root
    meets the groups in PROVINCE_MET and not the others, and each commune meets a group with
    chance COMMUNE_MET_CHANCE. Same data, same seed: same targets. A target that would be 0
    is left out, and so are targets that exist already. Like the rest of the demo they go in
    as plain rows, unaudited (a thousand audited upserts cost seconds). Returns how many.
    """
    last_month = last_month or year * 100 + 12
    month = last_month % 100
    by_code = {i.code: i for i in db.session.scalars(select(Indicator).where(Indicator.active))}
    indicators = [by_code[spec.code] for spec in DEFAULT_INDICATORS if spec.code in by_code]
    view = tally(root_unit, year * 100 + 1, last_month)
    units = [(root_unit, view.total)]
    units += [(unit, figures) for unit, figures in view.children if unit.kind not in HOLDING_KINDS]
    existing = set(
        db.session.execute(select(Target.indicator_id, Target.unit_id).where(Target.year == year))
    )
    rows: list[Target] = []
    for unit, figures in units:
        rng = random.Random(f"{seed}:{unit.division_code or unit.path}")
        met: dict[str, bool] = {}
        for indicator in indicators:
            group = indicator.group.code
            if group not in met:
                met[group] = (
                    group in PROVINCE_MET
                    if unit is root_unit
                    else rng.random() < COMMUNE_MET_CHANCE
                )
            actual = measure(figures, indicator.metric)
            value = _demo_value(indicator, actual, month, met=met[group], rng=rng)
            if value <= 0 or (indicator.id, unit.id) in existing:
                continue
            check_target_value(indicator, value)
            rows.append(Target(indicator_id=indicator.id, unit_id=unit.id, year=year, value=value))
    db.session.add_all(rows)
    db.session.flush()
    return len(rows)


def _demo_value(
    indicator: Indicator, actual: float, month: int, *, met: bool, rng: random.Random
) -> float:
    """A round target just under the actual (met) or clearly above it (not met)."""
    if indicator.metric in SHARE_METRICS:
        if met:
            return _round(actual * rng.uniform(0.8, 0.95), 5, up=False)
        return min(100.0, _round(actual + rng.uniform(10, 25), 5, up=True))
    rate = actual / periods_elapsed(indicator, month)  # per period so far
    if met:
        return _nice(rate * rng.uniform(0.8, 0.95), up=False)
    if indicator.period == "year":
        rate = actual * 12 / month  # the whole year at this pace
    return max(1.0, _nice(rate * rng.uniform(1.15, 1.4), up=True))


def _nice(value: float, *, up: bool) -> float:
    """Round as people set targets: units below 20, fives below 100, then two figures."""
    if value <= 0:
        return 0.0
    step = 1 if value < 20 else 5 if value < 100 else 10 ** (len(str(int(value))) - 2)
    return _round(value, step, up=up)


def _round(value: float, step: int, *, up: bool) -> float:
    units = math.ceil(value / step) if up else math.floor(value / step)
    return float(units * step)
