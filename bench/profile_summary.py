"""Summarise py-spy collapsed stacks (``py-spy record -f raw``): share by package, top self time.

    .venv/bin/python bench/profile_summary.py PROFILE.txt [...] [--top 25] [--under FUNC]

Package = the innermost frame's file: site-packages/<pkg>/..., the standard library's module,
or ``service``/``graphs`` for ours. ``--under FUNC`` also prints the share of samples whose stack
holds a frame whose text contains FUNC (e.g. ``finalize`` or ``create_run``), inclusive time.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*?) \((?P<file>[^:()]+)(?::\d+)?\)$")


def package(file: str) -> str:
    if "site-packages/" in file:
        return file.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    for ours in ("service/", "graphs/", "bench/"):
        if ours in file:
            return ours.rstrip("/") + (
                "/" + file.split(ours, 1)[1].split("/", 1)[0] if ours == "service/" else ""
            )
    if "/lib/python3" in file:
        rest = file.split("/lib/python3", 1)[1].split("/", 1)[1]
        return "stdlib:" + rest.split("/", 1)[0].removesuffix(".py")
    return file


def summarise(path: Path, top: int, under: list[str]) -> None:
    by_pkg: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = stack.split(";")
        inner = FRAME.match(frames[-1])
        where = inner.group("file") if inner else frames[-1]
        by_pkg[package(where)] += n
        self_time[frames[-1]] += n
        for word in under:
            if any(word in f for f in frames):
                inclusive[word] += n
    print(f"== {path.name}: {total} samples")
    for pkg, n in by_pkg.most_common(15):
        print(f"  {100 * n / total:5.1f}%  {pkg}")
    print("  -- top self time")
    for frame, n in self_time.most_common(top):
        print(f"  {100 * n / total:5.1f}%  {frame[:150]}")
    for word in under:
        print(f"  under {word!r}: {100 * inclusive[word] / max(1, total):.1f}%")


def main() -> None:
    p = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    p.add_argument("profiles", nargs="+", type=Path)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--under", action="append", default=[])
    args = p.parse_args()
    for path in args.profiles:
        summarise(path, args.top, args.under)


if __name__ == "__main__":
    main()
