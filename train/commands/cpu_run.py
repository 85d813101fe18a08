"""The CPU run's data commands: ``mini-sft-data`` (the crops as FakeInstruct for the SFT stage) and
``mini-eval-images`` (whole images for the figures, judged as `fakescope scan` judges a file)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    add_sft_data_command(subparsers, handlers)
    images = subparsers.add_parser(
        "mini-eval-images",
        help="whole test images (real and each family, one JPEG encoding) and own-size held-out photos",
    )
    images.add_argument("--cache", type=Path, required=True, help="photo cache of the run (fetched.json)")
    images.add_argument("--split", type=Path, required=True, help="the crops' split.json (photo -> split)")
    images.add_argument("--autoencoder", type=Path, required=True, help="the ae-tiny family's weights")
    images.add_argument("--out", type=Path, required=True, help="folder for test/ and own-size/")
    images.add_argument("--size", type=int, default=384, help="image size in pixels (default 384)")
    images.add_argument(
        "--held-out-package", action="append", default=[], metavar="PKG", help="package for own-size/"
    )
    images.add_argument(
        "--more-cache", type=Path, action="append", default=[], help="further photo caches for own-size/"
    )
    images.add_argument(
        "--camera-cache",
        type=Path,
        help="photo cache of camera originals (sources_camera.toml): all of them, byte for byte, to camera/",
    )
    images.add_argument("--seed", type=int, default=0)
    images.add_argument(
        "--val-only", action="store_true", help="only val/: validation photos' images, for the calibration"
    )
    handlers["mini-eval-images"] = run_eval_images


def run_eval_images(args: argparse.Namespace) -> int:
    from train.run.mini.eval_images import build_test_images, cached_packages, copy_own_size

    held_out = frozenset(args.held_out_package)
    split = "val" if args.val_only else "test"
    result = build_test_images(
        args.cache, args.split, args.autoencoder, args.out / split, args.size,
        exclude_packages=held_out, seed=args.seed, split=split,
    )  # fmt: skip
    sys.stderr.write(
        f"mini-eval-images: {split} {sum(result.counts.values())} images "
        f"{dict(sorted(result.counts.items()))}, {result.skipped_small} photos under {args.size} px\n"
    )
    if args.val_only:
        return 0
    copied = copy_own_size([args.cache, *args.more_cache], held_out, args.out / "own-size")
    sys.stderr.write(f"mini-eval-images: own-size {copied} photos of {', '.join(sorted(held_out))}\n")
    if args.camera_cache:
        packages = cached_packages(args.camera_cache)
        copied = copy_own_size([args.camera_cache], packages, args.out / "camera")
        sys.stderr.write(f"mini-eval-images: camera {copied} photos of {', '.join(sorted(packages))}\n")
    return 0


def add_sft_data_command(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    data = subparsers.add_parser(
        "mini-sft-data",
        help="the CPU run's SFT data: crops as a standard manifest, FakeChain, FakeInstruct, the mix",
    )
    data.add_argument("--crops", type=Path, required=True, metavar="MANIFEST", help="the crops manifest")
    data.add_argument("--out", type=Path, required=True, help="folder for manifest, chain and items")
    data.add_argument("--profile", type=Path, help="profile TOML (question and label words)")
    data.add_argument(
        "--others-per-family", type=int, default=400, help="non-judgment items per family (default 400)"
    )
    data.add_argument("--seed", type=int, default=0)
    data.add_argument(
        "--exclude-package", action="append", default=[], metavar="PKG", help="leave this package's crops out"
    )
    handlers["mini-sft-data"] = run_sft_data


def run_sft_data(args: argparse.Namespace) -> int:
    from collections import Counter

    from fakescope_cli.profile import DEFAULT_PROFILE, load_profile_toml
    from train.data.dataset import load_dataset
    from train.instruct.fakechain import build_fakechain, write_chain_jsonl
    from train.instruct.fakeinstruct import build_fakeinstruct, write_llava_json
    from train.run.mini.sft_data import mix_items, standard_manifest

    profile = load_profile_toml(args.profile) if args.profile else DEFAULT_PROFILE
    manifest = args.out / "manifest.csv"
    counts = standard_manifest(args.crops, manifest, frozenset(args.exclude_package), seed=args.seed)
    splits = Counter(split for split, _ in counts.elements())
    sys.stderr.write(f"mini-sft-data: {sum(counts.values())} crops ({dict(sorted(splits.items()))})\n")
    records = [r for r in load_dataset(manifest) if r.split == "train"]
    chain, chain_counts = build_fakechain(records)
    write_chain_jsonl(chain, args.out / "fakechain.jsonl")
    items = build_fakeinstruct(chain, profile, args.seed)
    mixed = mix_items(items, args.others_per_family, args.seed)
    write_llava_json(mixed, args.out / "fakeinstruct.json")
    families = Counter(item["family"] for item in mixed)
    sys.stderr.write(
        f"mini-sft-data: {chain_counts['kept']} chain records; {len(mixed)} items "
        f"({dict(sorted(families.items()))}) -> {args.out / 'fakeinstruct.json'}\n"
    )
    return 0
