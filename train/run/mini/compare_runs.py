"""One table of a run's evaluations beside another's: the figures a ship decision is made on.

    python -m train.run.mini.compare_runs --run shipped=runs/mini-cpu/shipped \
        --run distill=runs/mini-cpu/next-distill --out train/run/mini/stage2c/summary.json

A run folder holds ``train eval``'s JSON records: ``eval-test.json`` (or ``gguf-test.json``), and
where present ``eval-own-size.json``, ``eval-camera.json`` and ``eval-own-family.json`` (the
held-out ``ae-resynth`` images against the test reals, ``train.run.mini.own_heldout``), or the
``gguf-`` names. Each run is read through its GGUF backend; a test record made with ``--explain``
adds the explanations checked against the evidence engine. Prints a plain table and writes the
figures as JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from fakescope_cli.errors import DatasetError

LIKELY_AI = 0.6  # the CLI's `likely-ai` verdict starts here


def _record(folder: Path, name: str) -> dict[str, Any] | None:
    for path in (folder / f"eval-{name}.json", folder / f"gguf-{name}.json"):
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise DatasetError(f"{path}: not a JSON record ({exc})") from None
    return None


def _reals_flagged(record: dict[str, Any]) -> dict[str, int]:
    scores = [float(r["p_fake_gguf"]) for r in record["per_image"] if r["label"] == "real"]
    return {
        "images": len(scores),
        "p_fake_at_least_0.5": sum(p >= 0.5 for p in scores),
        f"likely_ai_{LIKELY_AI}": sum(p >= LIKELY_AI for p in scores),
    }


def run_figures(folder: Path) -> dict[str, Any]:
    """The test set's AUCs and ECE, per family, and the real photographs flagged in the others."""
    test = _record(folder, "test")
    if test is None:
        raise DatasetError(f"{folder}: no eval-test.json or gguf-test.json")
    gguf = test["backends"].get("gguf")
    if gguf is None:
        raise DatasetError(f"{folder}: the test record has no GGUF backend")

    def auc(part: dict[str, Any] | None) -> float | None:
        return None if part is None or part["roc_auc"] is None else round(part["roc_auc"], 4)

    out: dict[str, Any] = {
        "test_images": gguf["overall"]["n"],
        "test_auc_all": auc(gguf["overall"]),
        "test_auc_seen": auc(gguf.get("seen")),
        "test_auc_held_out": auc(gguf.get("held_out")),
        "test_ece": round(gguf["overall"]["ece"], 4),
        "test_accuracy": round(gguf["overall"]["accuracy"], 4),
        "per_family_auc": {k: auc(v) for k, v in sorted(gguf["per_generator"].items())},
    }
    for name in ("own-size", "own-size-unseen", "camera"):
        record = _record(folder, name)
        if record is not None:
            out[name] = _reals_flagged(record)
    family = _record(folder, "own-family")
    if family is not None and "gguf" in family["backends"]:
        out["own_family_auc"] = auc(family["backends"]["gguf"]["overall"])
    checked = test.get("explanations") or {}
    if "agree" in checked:
        out["explanations"] = {k: checked[k] for k in ("agree", "disagree", "unverifiable")}
    return out


def _cell(value: Any) -> str:
    return "-" if value is None else str(value)


def table(runs: dict[str, dict[str, Any]]) -> str:
    names = list(runs)
    rows = [("figure", *names)]
    keys = [
        "test_auc_all",
        "test_auc_seen",
        "test_auc_held_out",
        "test_ece",
        "test_accuracy",
        "own_family_auc",
    ]
    for key in keys:
        rows.append((key, *(_cell(runs[n].get(key)) for n in names)))
    families = sorted({f for r in runs.values() for f in r["per_family_auc"]})
    for family in families:
        rows.append((f"auc {family}", *(_cell(runs[n]["per_family_auc"].get(family)) for n in names)))
    for part in ("own-size", "own-size-unseen", "camera"):
        if any(part in r for r in runs.values()):
            cells = []
            for n in names:
                got = runs[n].get(part)
                cells.append(
                    "-"
                    if got is None
                    else f"{got['p_fake_at_least_0.5']} / {got[f'likely_ai_{LIKELY_AI}']} of {got['images']}"
                )
            rows.append((f"{part} flagged (p>=0.5 / likely-ai)", *cells))
    if any("explanations" in r for r in runs.values()):
        cells = []
        for n in names:
            got = runs[n].get("explanations")
            cells.append(
                "-" if got is None else f"{got['agree']} / {got['disagree']} / {got['unverifiable']}"
            )
        rows.append(("explanations agree / disagree / no claim", *cells))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--run", action="append", required=True, metavar="NAME=FOLDER")
    parser.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = parser.parse_args(argv)
    runs: dict[str, dict[str, Any]] = {}
    try:
        for spec in args.run:
            name, sep, folder = spec.partition("=")
            if not sep or not name or not folder:
                raise DatasetError(f"--run {spec!r}: expected NAME=FOLDER")
            runs[name] = run_figures(Path(folder))
    except DatasetError as exc:
        sys.stderr.write(f"compare_runs: {exc}\n")
        return 2
    sys.stdout.write(table(runs))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": runs}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
