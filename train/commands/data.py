"""The data commands: ``validate``, ``fakechain``, ``fakeinstruct`` (thin: parse, call, render)."""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections import Counter
from pathlib import Path

from fakescope_cli.errors import ConfigError
from fakescope_cli.profile import DEFAULT_PROFILE, load_profile_toml
from train.data.dataset import load_dataset
from train.data.records import FAMILIES, LABELS, SPLITS
from train.data.validate import SHORTCUT_AUC, ValidationReport, validate_dataset
from train.instruct.fakechain import build_fakechain, read_chain_jsonl, write_chain_jsonl
from train.instruct.fakeinstruct import build_fakeinstruct
from train.instruct.teacher import DEFAULT_TIMEOUT_S
from train.model.llava import read_llava_json, write_llava_json


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    """Add ``validate``, ``fakechain`` and ``fakeinstruct`` to the parser and their handlers."""
    commands = (
        ("validate", VALIDATE_HELP, validate_arguments, run_validate),
        (
            "fakechain",
            "build FakeChain reasoning records (JSONL) from a dataset",
            fakechain_arguments,
            run_fakechain,
        ),
        (
            "fakeinstruct",
            "turn FakeChain records into LLaVA-format FakeInstruct instructions (JSON)",
            fakeinstruct_arguments,
            run_fakeinstruct,
        ),
    )
    for name, help_text, add_arguments, handler in commands:
        add_arguments(subparsers.add_parser(name, help=help_text, description=help_text))
        handlers[name] = handler


VALIDATE_HELP = "check a dataset: balance, generators, duplicates across splits, format/size shortcuts"


def _generators(text: str | None) -> list[str] | None:
    if text is None:
        return None
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ConfigError("--generators: give at least one generator name (comma-separated)")
    return names


def _dataset_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data", type=Path, metavar="DATA", help="dataset folder, or a .csv / .jsonl manifest")
    parser.add_argument(
        "--generators", metavar="A,B", help="allowed generator families; any other name is an error"
    )


# --- validate ---------------------------------------------------------------------------------


def validate_arguments(parser: argparse.ArgumentParser) -> None:
    _dataset_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")


def run_validate(args: argparse.Namespace) -> int:
    records = load_dataset(args.data, _generators(args.generators))
    report = validate_dataset(records)
    sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n" if args.json else render_report(report))
    return 1 if args.strict and report.warnings else 0


def render_report(report: ValidationReport) -> str:
    lines = [f"images: {report.images}", "", f"{'split':<8}" + "".join(f"{label:>8}" for label in LABELS)]
    for split in (*SPLITS, "all"):
        lines.append(f"{split:<8}" + "".join(f"{report.counts[split][label]:>8}" for label in LABELS))
    if report.generators:
        lines += ["", "generators (train/val/test):"]
        lines += [
            f"  {name}: " + "/".join(str(row[s]) for s in SPLITS) for name, row in report.generators.items()
        ]
    lines += ["", "formats:"]
    lines += [
        f"  {label}: " + (", ".join(f"{fmt} {n}" for fmt, n in formats.items()) or "-")
        for label, formats in report.formats.items()
    ]
    lines += ["", f"shortcut check (AUC; 0.5 = no separation, 1.0 = perfect; warning at {SHORTCUT_AUC}):"]
    for name, value in report.separability.items():
        lines.append(f"  {name:<14}{'n/a' if value is None else f'{value:.2f}'}")
    combined = "n/a" if report.combined_auc is None else f"{report.combined_auc:.2f}"
    lines.append(f"  {'combined':<14}{combined} (cross-validated logistic regression)")
    lines += ["", f"near-duplicates across splits: {len(report.duplicates)}"]
    lines += [f"near-duplicates with different labels: {len(report.label_conflicts)}"]
    lines += ["", "warnings:" if report.warnings else "no warnings"]
    lines += [f"  - {warning}" for warning in report.warnings]
    return "\n".join(lines) + "\n"


# --- fakechain --------------------------------------------------------------------------------


def fakechain_arguments(parser: argparse.ArgumentParser) -> None:
    _dataset_arguments(parser)
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.jsonl", help="FakeChain output")
    parser.add_argument("--annotations", type=Path, metavar="FILE", help="human annotation file (JSON)")
    parser.add_argument(
        "--teacher", metavar='"CMD ..."', help="local teacher command: JSON request on stdin, reply on stdout"
    )
    parser.add_argument(
        "--teacher-timeout", type=float, default=DEFAULT_TIMEOUT_S, metavar="S", help="seconds per image"
    )


def _progress(done: int, total: int) -> None:
    if sys.stderr.isatty():
        sys.stderr.write(f"\rfakechain: {done}/{total} images" + ("\n" if done == total else ""))


def run_fakechain(args: argparse.Namespace) -> int:
    teacher = None
    if args.teacher is not None:
        try:
            teacher = shlex.split(args.teacher)
        except ValueError as exc:
            raise ConfigError(f"--teacher: cannot parse the command ({exc})") from None
        if not teacher:
            raise ConfigError("--teacher: empty command")
    if args.teacher_timeout <= 0:
        raise ConfigError("--teacher-timeout must be positive")
    records = load_dataset(args.data, _generators(args.generators))
    chain, counts = build_fakechain(records, args.annotations, teacher, args.teacher_timeout, _progress)
    write_chain_jsonl(chain, args.out)
    sys.stderr.write(
        f"fakechain: {counts['kept']} records kept ({counts['judgment_only']} judgment only), "
        f"{counts['dropped_unsupported']} dropped as unsupported; claims: measured "
        f"{counts['claims_measured']}, human {counts['claims_human']}, teacher {counts['claims_teacher']}"
        f" -> {args.out}\n"
    )
    return 0


# --- fakeinstruct -----------------------------------------------------------------------------


def fakeinstruct_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("chain", type=Path, metavar="CHAIN.jsonl", help="FakeChain records")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE.json", help="LLaVA-format output")
    parser.add_argument(
        "--profile", type=Path, metavar="PROFILE.toml", help="question and label words (default: built in)"
    )
    parser.add_argument("--seed", type=int, default=0, help="question variants and choice order")
    parser.add_argument(
        "--extra",
        type=Path,
        action="append",
        default=[],
        metavar="FAKECLUE.json",
        help="LLaVA/FakeClue-style JSON to append (repeatable)",
    )


def run_fakeinstruct(args: argparse.Namespace) -> int:
    profile = load_profile_toml(args.profile) if args.profile else DEFAULT_PROFILE
    chain = read_chain_jsonl(args.chain)
    items = build_fakeinstruct(chain, profile, args.seed)
    for extra in args.extra:
        items += read_llava_json(extra)
    write_llava_json(items, args.out)
    families = Counter(item["family"] for item in items)
    summary = ", ".join(f"{family} {families[family]}" for family in FAMILIES)
    sys.stderr.write(f"fakeinstruct: {len(items)} items ({summary}) -> {args.out}\n")
    return 0
