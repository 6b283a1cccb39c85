"""Months as the integers YYYYMM the rollup tables use, and the periods people ask for."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy import Integer, cast, func

from webapp.database import dialect_name


def month_of(day: date) -> int:
    return day.year * 100 + day.month


def add_months(month: int, count: int) -> int:
    index = (month // 100) * 12 + (month % 100 - 1) + count
    return (index // 12) * 100 + index % 12 + 1


def months_between(first: int, last: int) -> list[int]:
    """Every month from `first` to `last`, both included (empty if last < first)."""
    months: list[int] = []
    month = first
    while month <= last:
        months.append(month)
        month = add_months(month, 1)
    return months


def first_day(month: int) -> date:
    return date(month // 100, month % 100, 1)


def parse_month(text: str) -> int | None:
    """'2026-03' or '202603' -> 202603; None when it is not a month."""
    digits = text.strip().replace("-", "").replace("/", "")
    if len(digits) != 6 or not digits.isdigit():
        return None
    year, month = int(digits[:4]), int(digits[4:])
    if not (1900 <= year <= 9999 and 1 <= month <= 12):
        return None
    return year * 100 + month


def month_sql(column: Any) -> Any:
    """SQL for the YYYYMM integer of a DATE column, on the current database."""
    if dialect_name() == "postgresql":
        return cast(func.to_char(column, "YYYYMM"), Integer)
    return cast(func.strftime("%Y%m", column), Integer)
