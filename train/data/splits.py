"""Seeded train/val/test assignment: whole groups (one source photo) by rank, single items by hash."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

from fakescope_cli.errors import ConfigError
from train.data.records import SPLITS

Ratios = tuple[int, int, int]


def parse_splits(text: str) -> Ratios:
    """``"80,10,10"`` -> (80, 10, 10); three non-negative integers with a positive sum."""
    try:
        parts = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise ConfigError(f"--splits {text!r}: expected three integers like 80,10,10") from None
    if len(parts) != 3 or min(parts) < 0 or sum(parts) == 0:
        raise ConfigError(f"--splits {text!r}: expected three non-negative integers like 80,10,10")
    return parts[0], parts[1], parts[2]


def seeded_fraction(seed: int, key: str) -> float:
    """A number in [0, 1) from the seed and ``key``, the same on every run and machine."""
    digest = hashlib.sha256(f"{seed}\x00{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def hash_split(seed: int, key: str, ratios: Ratios) -> str:
    """The split of one item: its seeded fraction against the cumulative ratios."""
    value = seeded_fraction(seed, key) * sum(ratios)
    if value < ratios[0]:
        return SPLITS[0]
    return SPLITS[1] if value < ratios[0] + ratios[1] else SPLITS[2]


def group_splits(seed: int, groups: Iterable[str], ratios: Ratios) -> dict[str, str]:
    """Each group (e.g. a source photo) -> one split, with counts as close to the ratios as whole
    groups allow: groups are ordered by their seeded fraction and cut by largest remainder; a split
    with a positive ratio gets at least one group when there are enough groups."""
    ordered = sorted(set(groups), key=lambda g: (seeded_fraction(seed, g), g))
    total = sum(ratios)
    exact = [len(ordered) * r / total for r in ratios]
    counts = [int(x) for x in exact]
    for index in sorted(range(3), key=lambda i: exact[i] - counts[i], reverse=True):
        if sum(counts) < len(ordered):
            counts[index] += 1
    for index in range(3):  # lend one group to an empty split from the largest one
        if ratios[index] and not counts[index] and len(ordered) >= sum(1 for r in ratios if r):
            counts[counts.index(max(counts))] -= 1
            counts[index] += 1
    result: dict[str, str] = {}
    start = 0
    for split, count in zip(SPLITS, counts, strict=True):
        for group in ordered[start : start + count]:
            result[group] = split
        start += count
    return result
