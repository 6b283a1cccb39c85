"""`python -m bench` runs every benchmark module in this folder; `python -m bench photos` one."""

from __future__ import annotations

import importlib
import pkgutil
import sys

import bench

_NOT_BENCHMARKS = {"common", "__main__"}


def available() -> list[str]:
    return sorted(
        module.name
        for module in pkgutil.iter_modules(bench.__path__)
        if module.name not in _NOT_BENCHMARKS and not module.name.startswith("_")
    )


def main(argv: list[str]) -> int:
    names = argv or available()
    unknown = sorted(set(names) - set(available()))
    if unknown:
        print(f"unknown benchmark(s): {', '.join(unknown)}; available: {', '.join(available())}")
        return 2
    for name in names:
        print(f"## bench.{name}\n")
        importlib.import_module(f"bench.{name}").main()
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
