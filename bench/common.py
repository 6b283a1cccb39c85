"""Helpers shared by the benchmarks: timing, statistics, a markdown table, the machine line."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Stats:
    label: str
    samples_ms: tuple[float, ...]

    @property
    def runs(self) -> int:
        return len(self.samples_ms)

    @property
    def median(self) -> float:
        return statistics.median(self.samples_ms)

    @property
    def p10(self) -> float:
        return self._deciles()[0]

    @property
    def p90(self) -> float:
        return self._deciles()[-1]

    def _deciles(self) -> list[float]:
        if self.runs < 2:
            return [self.samples_ms[0]] * 9
        return statistics.quantiles(self.samples_ms, n=10, method="inclusive")


def time_once(fn: Callable[[], object]) -> float:
    """Milliseconds for one call."""
    started = time.perf_counter()
    fn()
    return (time.perf_counter() - started) * 1000


def measure(label: str, fn: Callable[[], object], *, runs: int = 7, warmup: int = 1) -> Stats:
    for _ in range(warmup):
        fn()
    return Stats(label, tuple(time_once(fn) for _ in range(runs)))


def measure_round_robin(
    cases: Mapping[str, Callable[[], object]], *, runs: int = 7, warmup: int = 1
) -> list[Stats]:
    """Time every case `runs` times, interleaved, so load drifts hit all cases alike."""
    for fn in cases.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {label: [] for label in cases}
    for _ in range(runs):
        for label, fn in cases.items():
            samples[label].append(time_once(fn))
    return [Stats(label, tuple(values)) for label, values in samples.items()]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_line() -> str:
    """nproc, CPU model, load average *now* (call it before measuring), Python."""
    try:
        nproc = len(os.sched_getaffinity(0))
    except AttributeError:
        nproc = os.cpu_count() or 0
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "n/a"
    return (
        f"machine: nproc={nproc}, CPU {cpu_model()}, load average at start {load}, "
        f"Python {platform.python_version()}"
    )


def markdown_table(
    title: str, rows: list[Stats], *, baseline: str | None = None, unit: str = "ms"
) -> str:
    """A markdown table: median, p10, p90, min, max, and (with `baseline`, a row label) the
    speed-up: the baseline's median divided by the row's."""
    base = next((r.median for r in rows if r.label == baseline), None)
    header = f"| {title} | runs | median {unit} | p10 | p90 | min | max |"
    rule = "|---|---:|---:|---:|---:|---:|---:|"
    if base is not None:
        header += " speed-up |"
        rule += "---:|"
    lines = [header, rule]
    for r in rows:
        line = (
            f"| {r.label} | {r.runs} | {r.median:.1f} | {r.p10:.1f} | {r.p90:.1f} | "
            f"{min(r.samples_ms):.1f} | {max(r.samples_ms):.1f} |"
        )
        if base is not None:
            line += f" {base / r.median:.2f}× |"
        lines.append(line)
    return "\n".join(lines)
