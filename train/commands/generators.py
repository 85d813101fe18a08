"""``synth-train``, ``synth-generate``, ``synth-list``: the small generator families of
``train/generators/`` (torch is imported only when a command runs)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.generators.registry import FAMILIES, family_spec

DEVICES = ("auto", "cpu", "cuda")


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    """Add the three synth commands and their handlers."""
    train = subparsers.add_parser(
        "synth-train",
        help="train a small generator family on a folder of real crops",
        description="Train a small generator family on real crops (PNG/JPEG, ideally already "
        "IMAGE_SIZE squares; others are centre-cropped and resized). Writes weights.safetensors "
        "and config.json to --out. Defaults are per family (see synth-list).",
    )
    train.add_argument("--family", required=True, help=f"one of: {', '.join(FAMILIES)}")
    train.add_argument("--photos", type=Path, required=True, metavar="DIR", help="folder of real crops")
    train.add_argument("--out", type=Path, required=True, metavar="DIR", help="weights folder to write")
    train.add_argument("--image-size", type=int, default=128, help="side in pixels, a power of two (128)")
    train.add_argument("--steps", type=int, help="optimiser steps (default: the family's)")
    train.add_argument("--batch-size", type=int, help="crops per step (default: the family's)")
    train.add_argument("--seed", type=int, default=0, help="weights, batches and noise (default 0)")
    train.add_argument("--device", choices=DEVICES, default="auto", help="auto = cuda when available")
    train.add_argument("--width", type=int, help="base channel count (default: the family's)")
    handlers["synth-train"] = run_synth_train

    generate = subparsers.add_parser(
        "synth-generate",
        help="sample a trained family into PNG files (resumable)",
        description="Write COUNT PNGs <family>-s<seed>-<index>.png and generation.json to --out; "
        "files already there are kept. ae-resynth needs --source: real crops to re-synthesise, "
        "disjoint from the crops used as the real class.",
    )
    generate.add_argument("--weights", type=Path, required=True, metavar="DIR", help="synth-train output")
    generate.add_argument("--count", type=int, required=True, help="number of images")
    generate.add_argument("--out", type=Path, required=True, metavar="DIR", help="output folder")
    generate.add_argument("--seed", type=int, default=0, help="sampling noise (default 0)")
    generate.add_argument("--source", type=Path, metavar="DIR", help="real crops (ae-resynth only)")
    generate.add_argument("--device", choices=DEVICES, default="auto", help="auto = cuda when available")
    handlers["synth-generate"] = run_synth_generate

    subparsers.add_parser("synth-list", help="list the generator families and their defaults")
    handlers["synth-list"] = run_synth_list


def _progress(step: int, steps: int, losses: dict[str, float]) -> None:
    if sys.stderr.isatty() and (step == steps or step % max(1, steps // 100) == 0):
        values = " ".join(f"{name} {value:.4f}" for name, value in losses.items())
        sys.stderr.write(f"\rsynth-train: step {step}/{steps} {values}" + ("\n" if step == steps else ""))


def run_synth_train(args: argparse.Namespace) -> int:
    spec = family_spec(args.family)
    from train.generators.trainer import train_family

    summary = train_family(
        args.family,
        args.photos,
        args.out,
        image_size=args.image_size,
        steps=spec.default_steps if args.steps is None else args.steps,
        batch_size=spec.default_batch if args.batch_size is None else args.batch_size,
        seed=args.seed,
        device=args.device,
        width=args.width,
        progress=_progress,
    )
    sys.stdout.write(
        f"{summary.family}: {summary.steps} steps on {summary.photos} crops, {summary.device}, "
        f"{summary.seconds:.1f} s\n"
    )
    for name in summary.losses:
        first, last = summary.first_last(name)
        sys.stdout.write(f"{name}: {first:.4f} -> {last:.4f}\n")
    sys.stdout.write(f"wrote {summary.weights}\n")
    return 0


def run_synth_generate(args: argparse.Namespace) -> int:
    from train.generators.generate import generate

    summary = generate(
        args.weights, args.count, args.out, seed=args.seed, device=args.device, source_dir=args.source
    )
    sys.stdout.write(
        f"{summary.family}: {summary.written} written, {summary.skipped} already there, "
        f"{summary.device}, {summary.seconds:.1f} s -> {summary.out_dir}\n"
    )
    return 0


def run_synth_list(args: argparse.Namespace) -> int:
    for spec in FAMILIES.values():
        source = " (needs --source)" if spec.needs_source else ""
        sys.stdout.write(
            f"{spec.name}{source}\n  trace: {spec.trace}\n  defaults: width {spec.default_width}, "
            f"steps {spec.default_steps}, batch {spec.default_batch}\n"
        )
    return 0
