"""``vision-train`` (the vision tower as a classifier on native tiles, bounded and resumable) and
``vision-apply`` (its weights into a checkpoint, for ``sft``)."""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

from fakescope_cli.errors import ConfigError


def _not_negative(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    train = subparsers.add_parser(
        "vision-train",
        help="train a checkpoint's vision tower as a real/fake classifier on native tiles (resumable)",
    )
    train.add_argument("--checkpoint", type=Path, required=True, help="Idefics3 checkpoint (mini-init's)")
    train.add_argument("--data", type=Path, required=True, metavar="MANIFEST", help="crops manifest (CSV)")
    train.add_argument("--out", type=Path, required=True, help="stage folder (state, record, weights)")
    train.add_argument("--minutes", type=float, default=45.0, help="training time budget (default 45)")
    train.add_argument(
        "--steps", type=_not_negative, default=0, help="this many steps, not --minutes' (0: from the time)"
    )
    train.add_argument("--batch-size", type=int, default=32)
    train.add_argument("--learning-rate", type=float, default=1e-3)
    train.add_argument("--threads", type=int, default=2)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--warmup-steps", type=_not_negative, default=100, help="0: no warm-up")
    train.add_argument(
        "--init-from", type=Path, metavar="VISION", help="continue from an earlier stage's vision.safetensors"
    )
    train.add_argument(
        "--blur", type=float, default=0.0, metavar="SHARE", help="share of tiles blurred, both classes alike"
    )
    train.add_argument(
        "--exclude-package", action="append", default=[], metavar="PKG", help="leave this package's crops out"
    )
    handlers["vision-train"] = run_vision_train
    apply = subparsers.add_parser("vision-apply", help="put vision-train's tower into a copy of a checkpoint")
    apply.add_argument("--checkpoint", type=Path, required=True)
    apply.add_argument("--vision", type=Path, required=True, help="vision-train's vision.safetensors")
    apply.add_argument("--out", type=Path, required=True, help="new checkpoint folder")
    handlers["vision-apply"] = run_vision_apply


def run_vision_train(args: argparse.Namespace) -> int:
    from train.model.vision.stage import StageConfig, train_vision

    config = StageConfig(
        minutes=args.minutes,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,
        threads=args.threads,
        seed=args.seed,
        warmup_steps=args.warmup_steps,
        exclude_packages=tuple(args.exclude_package),
        init_from=str(args.init_from) if args.init_from else None,
        blur=args.blur,
        steps=args.steps,
    )

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    record = train_vision(args.checkpoint, args.data, args.out, config, log)
    test = record["test"]
    sys.stdout.write(
        json.dumps(
            {
                "steps": record["steps"],
                "test_roc_auc": test["overall"]["roc_auc"],
                **test["roc_auc_per_family"],
            }
        )
        + "\n"
    )
    return 0


def run_vision_apply(args: argparse.Namespace) -> int:
    """Copy the checkpoint folder and replace its vision-tower tensors (every one, by name)."""
    from safetensors.torch import load_file, save_file

    from train.model.vision.stage import VISION_PREFIX

    source = args.checkpoint / "model.safetensors"
    if not source.is_file():
        raise ConfigError(f"{args.checkpoint}: no model.safetensors (a single-file checkpoint is expected)")
    weights = load_file(str(source))
    vision = {k: v for k, v in load_file(str(args.vision)).items() if k.startswith(VISION_PREFIX)}
    expected = {k for k in weights if k.startswith(VISION_PREFIX)}
    if set(vision) != expected:
        raise ConfigError(f"{args.vision}: its vision tensors do not match {source}'s (another shape?)")
    for name, tensor in vision.items():
        if tensor.shape != weights[name].shape:
            raise ConfigError(
                f"{args.vision}: {name} is {tuple(tensor.shape)}, "
                f"the checkpoint's {tuple(weights[name].shape)}"
            )
        weights[name] = tensor.to(
            weights[name].dtype
        )  # a half-precision copy goes in at the checkpoint's type
    staging = args.out.with_name(args.out.name + ".partial")
    shutil.rmtree(staging, ignore_errors=True)
    shutil.copytree(args.checkpoint, staging, ignore=shutil.ignore_patterns("model.safetensors"))
    save_file(weights, str(staging / "model.safetensors"), metadata={"format": "pt"})
    shutil.rmtree(args.out, ignore_errors=True)
    staging.replace(args.out)
    sys.stderr.write(f"vision-apply: {len(vision)} vision tensors from {args.vision} -> {args.out}\n")
    return 0
