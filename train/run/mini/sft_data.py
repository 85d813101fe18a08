"""The CPU run's SFT data: the crop set of the vision stage as a standard manifest, and the share of
FakeInstruct the language model is tuned on.

``standard_manifest`` turns the crop manifest (``path,label,family,photo_id,package,split,...``) into
the one ``python -m train fakechain`` and ``eval`` read (``path,label,generator,source,split``),
moving the vision stage's validation photos into ``val`` with the very rule the stage used, and
leaving out the packages kept for the false-positive figure. ``mix_items`` keeps every ``absolute``
item of the training split (the judgment is what p(fake) is read from) and a bounded, seeded,
label-balanced share of the other families (explanations cost ~5 times the tokens of a judgment).

    python -m train mini-sft-data --crops build/exp/data4/manifest.csv --out runs/mini-cpu/sft-data \\
        --exclude-package lomiri-wallpapers-16.04
"""

from __future__ import annotations

import csv
import random
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from fakescope_cli.errors import DatasetError
from train.model.vision.crops import val_photo

STANDARD_FIELDS = ("path", "label", "generator", "source", "split")


def standard_manifest(
    crops: Path,
    out: Path,
    exclude_packages: frozenset[str] = frozenset(),
    val_fraction: float = 0.1,
    seed: int = 0,
) -> Counter[tuple[str, str]]:
    """Write ``out`` (absolute image paths); returns counts by (split, family)."""
    try:
        rows = list(csv.DictReader(crops.open(newline="", encoding="utf-8")))
    except OSError as exc:
        raise DatasetError(f"{crops}: cannot read ({exc.strerror or exc})") from None
    missing = {"path", "label", "family", "photo_id", "split"} - set(rows[0] if rows else {})
    if missing:
        raise DatasetError(f"{crops}: no column {sorted(missing)[0]!r}")
    counts: Counter[tuple[str, str]] = Counter()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=STANDARD_FIELDS)
        writer.writeheader()
        for row in rows:
            if row.get("package", "") in exclude_packages:
                continue
            split = row["split"]
            if split == "train" and val_photo(row["photo_id"], seed, val_fraction):
                split = "val"
            fake = row["label"] in ("1", "fake")
            writer.writerow(
                {
                    "path": str((crops.parent / row["path"]).resolve()),
                    "label": "fake" if fake else "real",
                    "generator": row["family"] if fake else "",
                    "source": row["photo_id"],
                    "split": split,
                }
            )
            counts[(split, row["family"])] += 1
    return counts


def mix_items(
    items: Sequence[dict[str, Any]], others_per_family: int, seed: int = 0, split: str = "train"
) -> list[dict[str, Any]]:
    """Every ``absolute`` item of ``split``; of each other family at most ``others_per_family``,
    half real and half fake where there are enough; shuffled with ``seed``."""
    rng = random.Random(seed)
    chosen = [i for i in items if i.get("split") == split and i["family"] == "absolute"]
    for family in sorted({i["family"] for i in items} - {"absolute"}):
        pool = [i for i in items if i.get("split") == split and i["family"] == family]
        by_label = {label: [i for i in pool if i["label"] == label] for label in ("real", "fake")}
        for group in by_label.values():
            rng.shuffle(group)
        half = others_per_family // 2
        take = by_label["real"][:half] + by_label["fake"][:half]
        rest = [i for group in by_label.values() for i in group[half:]]
        take += rest[: max(0, others_per_family - len(take))]
        chosen += take
    rng.shuffle(chosen)
    return chosen
