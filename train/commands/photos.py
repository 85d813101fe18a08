"""The photo and processing commands: ``photos-fetch``, ``photos-pool``, ``photos-crops``,
``process`` (thin: parse, call, render a short report on stderr)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.data.photos.crops import make_crops
from train.data.photos.fetch import fetch
from train.data.photos.pool import POOL_QUALITY, POOL_SUBSAMPLING, build_pool
from train.data.photos.sources import DEFAULT_SOURCES, load_sources
from train.data.process import (
    ProcessReport,
    assign_splits,
    fake_items,
    parse_crop_scale,
    parse_quality,
    process,
    real_items,
)
from train.data.records import SPLITS
from train.data.splits import parse_splits

FETCH_HELP = "download Debian packages (apt-get download; network) and copy out their listed photographs"
POOL_HELP = f"downscale the fetched photographs into a compact pool (JPEG q{POOL_QUALITY} {POOL_SUBSAMPLING})"
CROPS_HELP = "random square crops of the pool's photographs, split by source photo, with manifest.csv"
PROCESS_HELP = "write the training set: real and generated images through identical processing"


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    """Add the photo commands and ``process`` to the parser and their handlers."""
    commands = (
        ("photos-fetch", FETCH_HELP, fetch_arguments, run_fetch),
        ("photos-pool", POOL_HELP, pool_arguments, run_pool),
        ("photos-crops", CROPS_HELP, crops_arguments, run_crops),
        ("process", PROCESS_HELP, process_arguments, run_process),
    )
    for name, help_text, add_arguments, handler in commands:
        add_arguments(subparsers.add_parser(name, help=help_text, description=help_text))
        handlers[name] = handler


def fetch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", type=Path, required=True, metavar="DIR", help="cache folder")
    parser.add_argument(
        "--package",
        action="append",
        default=[],
        metavar="NAME|FILE.deb",
        help="a listed package (downloaded) or a local .deb (repeatable; default: every listed package)",
    )
    parser.add_argument(
        "--sources", type=Path, default=DEFAULT_SOURCES, metavar="FILE.toml", help="the photo list"
    )


def run_fetch(args: argparse.Namespace) -> int:
    for package in fetch(args.cache, args.package, load_sources(args.sources)):
        sys.stderr.write(f"photos-fetch: {package.name} {package.version}: {package.photos} photos\n")
    return 0


def pool_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cache", type=Path, required=True, metavar="DIR", help="photos-fetch's cache")
    parser.add_argument("--out", type=Path, required=True, metavar="POOL", help="pool folder (replaced)")
    parser.add_argument("--max-side", type=int, default=1024, help="longer side limit in pixels")
    parser.add_argument("--budget-mb", type=float, default=40.0, help="total size limit of the pool")


def run_pool(args: argparse.Namespace) -> int:
    report = build_pool(args.cache, args.out, args.max_side, args.budget_mb)
    sys.stderr.write(
        f"photos-pool: {len(report.photos)} photos, {report.total_bytes / 2**20:.1f} MB "
        f"(budget {report.budget_bytes / 2**20:.1f} MB), longer side <= {report.max_side} px -> {args.out}\n"
    )
    return 0


def crops_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pool", type=Path, required=True, metavar="POOL", help="photos-pool's folder")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="crops folder (replaced)")
    parser.add_argument("--size", type=int, default=128, help="crop side in pixels")
    parser.add_argument("--per-photo", type=int, required=True, metavar="N", help="crops per photo")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--splits", default="80,10,10", metavar="TRAIN,VAL,TEST", help="by source photo")


def run_crops(args: argparse.Namespace) -> int:
    report = make_crops(args.pool, args.out, args.size, args.per_photo, args.seed, parse_splits(args.splits))
    per_split = ", ".join(f"{s} {report.per_split[s]} ({report.photos_per_split[s]} photos)" for s in SPLITS)
    total = f"{report.crops} crops of {report.photos} photos"
    sys.stderr.write(f"photos-crops: {total}: {per_split} -> {args.out}\n")
    return 0


def process_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--real", type=Path, required=True, metavar="DIR_OR_MANIFEST", help="real images or a crops manifest"
    )
    parser.add_argument(
        "--fake", action="append", required=True, metavar="FAMILY=DIR", help="generated images (repeatable)"
    )
    parser.add_argument("--out", type=Path, required=True, metavar="DATA", help="dataset folder (replaced)")
    parser.add_argument(
        "--size",
        type=int,
        help="a native SIZE x SIZE crop at a random position, never resized (default: none)",
    )
    parser.add_argument(
        "--crop-scale",
        metavar="LO:HI",
        help="instead: a square of this fraction of the shorter side resized to SIZE (erases pixel traces)",
    )
    parser.add_argument("--quality", default="70:95", metavar="LO:HI", help="JPEG quality, uniform")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--holdout", metavar="FAMILY", help="a family kept for the test split only")
    parser.add_argument("--splits", default="80,10,10", metavar="TRAIN,VAL,TEST")


def run_process(args: argparse.Namespace) -> int:
    from fakescope_cli.errors import ConfigError

    ratios = parse_splits(args.splits)
    fakes = fake_items(args.fake)
    holdout = args.holdout.strip().lower() if args.holdout else None
    if holdout is not None and holdout not in {item.generator for item in fakes}:
        raise ConfigError(f"--holdout {args.holdout!r} is not one of the --fake families")
    items = assign_splits(real_items(args.real) + fakes, args.seed, ratios, holdout)
    report = process(
        items,
        args.out,
        args.seed,
        parse_quality(args.quality),
        args.size,
        parse_crop_scale(args.crop_scale) if args.crop_scale else None,
    )
    sys.stderr.write(render_process(report, args.out))
    return 0


def render_process(report: ProcessReport, out: Path) -> str:
    groups = sorted({group for row in report.counts.values() for group in row})
    lines = [f"process: {report.images} images -> {out}", f"{'':<14}" + "".join(f"{s:>8}" for s in SPLITS)]
    for group in groups:
        lines.append(f"{group:<14}" + "".join(f"{report.counts[s].get(group, 0):>8}" for s in SPLITS))
    if any(report.skipped.values()):
        lines.append(
            "skipped, smaller than the native crop: "
            f"real {report.skipped['real']}, fake {report.skipped['fake']}"
        )
    if any(report.enlarged.values()):
        lines.append(
            f"enlarged by the resize: real {report.enlarged['real']}, fake {report.enlarged['fake']} "
            "(enlargement leaves traces: give both classes inputs at least --size on the shorter side)"
        )
    return "\n".join(lines) + "\n"
