"""A crops manifest in which the named packages train but never test: their test-split rows are
dropped, their training rows kept. Written beside the source manifest, whose crop paths it shares.

    python -m train.run.mini.train_only build/exp/data4/manifest.csv \
        --package lomiri-wallpapers-16.04 --out build/exp/data4/manifest-lomiri-train.csv

The third full run puts the camera-size photographs of ``lomiri-wallpapers-16.04`` among the
training reals and the generators' sources; its test photographs leave the test set, so the test
set stays the one every earlier run was measured on.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections import Counter
from pathlib import Path


def train_only(source: Path, out: Path, packages: frozenset[str]) -> Counter[str]:
    """Write ``out``; the counts of rows kept per split and of test rows dropped."""
    if out.resolve().parent != source.resolve().parent:
        raise ValueError(f"{out}: must sit beside {source} (crop paths are relative to it)")
    counts: Counter[str] = Counter()
    with source.open(newline="", encoding="utf-8") as src:
        reader = csv.DictReader(src)
        if reader.fieldnames is None or not {"package", "split"} <= set(reader.fieldnames):
            raise ValueError(f"{source}: needs columns 'package' and 'split'")
        tmp = out.with_name(out.name + ".part")
        with tmp.open("w", newline="", encoding="utf-8") as dst:
            writer = csv.DictWriter(dst, fieldnames=reader.fieldnames)
            writer.writeheader()
            for row in reader:
                if row["package"] in packages and row["split"] != "train":
                    counts["dropped"] += 1
                    continue
                counts[row["split"]] += 1
                writer.writerow(row)
    tmp.replace(out)
    return counts


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("manifest", type=Path)
    parser.add_argument("--package", action="append", required=True, metavar="PKG")
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    try:
        counts = train_only(args.manifest, args.out, frozenset(args.package))
    except (OSError, ValueError) as exc:
        sys.exit(f"train_only: {exc}")
    sys.stdout.write(f"{args.out}: {dict(sorted(counts.items()))}\n")


if __name__ == "__main__":
    main()
