"""`python -m conversion`: export a checkpoint, list supported architectures, inspect a GGUF.

Exit codes: 0 done; 2 the checkpoint or file could not be converted or read (one line on
stderr; the traceback only with FAKESCOPE_DEBUG=1).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conversion.registry import supported_architectures
from fakescope_cli.card import load_card_toml
from fakescope_cli.errors import FakeScopeError
from fakescope_cli.profile import load_profile_toml

QUANT_CHOICES = ("f32", "f16", "bf16", "q8_0", "q6_k", "q5_k_m", "q4_k_m", "iq4_nl", "q4_0")  # export.QUANTS
MMPROJ_CHOICES = ("f32", "f16", "q8_0", "bf16")  # export.MMPROJ_TYPES
PROFILES_DIR = Path(__file__).resolve().parent / "profiles"


def bundled_profiles() -> list[str]:
    return sorted(p.stem for p in PROFILES_DIR.glob("*.toml"))


def resolve_profile(value: str) -> Path:
    """A path to a profile TOML, or the name of one bundled with the converter."""
    path = Path(value)
    if not path.exists() and value in bundled_profiles():
        return PROFILES_DIR / f"{value}.toml"
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m conversion", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write NAME.gguf + NAME.mmproj.gguf + NAME.manifest.json")
    export.add_argument("checkpoint", type=Path, help="Hugging Face checkpoint folder")
    export.add_argument("--out", type=Path, help="output folder (required unless --dry-run)")
    export.add_argument("--name", help="file name stem (default: the checkpoint folder's name)")
    export.add_argument(
        "--quant",
        choices=QUANT_CHOICES,
        help="text model type: f16 (default), bf16, q8_0, q6_k, q5_k_m, q4_k_m, iq4_nl or q4_0 (llama.cpp's "
        "quantizer), f32 for parity tests; the projector's type is --mmproj-quant",
    )
    export.add_argument(
        "--mmproj-quant",
        choices=MMPROJ_CHOICES,
        help="vision projector type: f32, f16, q8_0 or bf16 (the last two by llama.cpp's quantizer); "
        "default: the fastest on CPU for the architecture (f32 for Idefics3/SmolVLM), else f16 "
        "(f32 with --quant f32)",
    )
    export.add_argument("--outtype", choices=("f32", "f16"), help=argparse.SUPPRESS)  # older name
    export.add_argument(
        "--profile",
        help="profile TOML (judge prompt, label words ...) or a bundled one: "
        + ", ".join(bundled_profiles()),
    )
    export.add_argument(
        "--card",
        type=Path,
        help="model card TOML: caveat (one line, shown with every output) and limits (a paragraph); "
        "default: fakescope-card.toml in the checkpoint folder, if there is one",
    )
    export.add_argument("--dry-run", action="store_true", help="print the tensor plan; write nothing")
    sub.add_parser("list", help="supported architectures")
    inspect = sub.add_parser("inspect", help="metadata and tensors of a GGUF file")
    inspect.add_argument("file", type=Path)
    inspect.add_argument("--no-tensors", action="store_true", help="metadata only")
    return parser


def _print_plan(plan) -> None:
    out = sys.stdout
    out.write(f"architecture: {plan.architecture}\n")
    note = f", then quantized to {plan.quant} by llama.cpp" if plan.quant not in ("f32", "f16") else ""
    for title, items, kind in (
        ("text", plan.text, f"{plan.float_type}{note}"),
        ("mmproj", plan.mmproj, plan.float_type),
    ):
        total = sum(item.nbytes for item in items)
        out.write(f"{title}: {len(items)} tensors, {total / 2**20:.1f} MiB before quantization ({kind})\n")
        for item in items:
            out.write(
                f"  {item.gguf_name:<40} {item.dtype:<4} {list(item.shape)!s:<22} <- {item.source_name}\n"
            )


def _run(args: argparse.Namespace) -> int:
    if args.command == "list":
        sys.stdout.write("\n".join(supported_architectures()) + "\n")
        return 0
    if args.command == "inspect":
        from conversion.inspect_gguf import describe

        for line in describe(args.file, tensors=not args.no_tensors):
            sys.stdout.write(line + "\n")
        return 0
    from conversion.export import export_checkpoint, plan_export

    quant = args.quant or args.outtype or "f16"
    profile = load_profile_toml(resolve_profile(args.profile)) if args.profile else None
    card = load_card_toml(args.card) if args.card else None
    if args.dry_run:
        _print_plan(plan_export(args.checkpoint, quant=quant, profile=profile, card=card))
        return 0
    if args.out is None:
        sys.stderr.write("error: --out is required (or use --dry-run)\n")
        return 2
    result = export_checkpoint(
        args.checkpoint,
        args.out,
        name=args.name,
        quant=quant,
        profile=profile,
        mmproj_quant=args.mmproj_quant,
        card=card,
    )
    for warning in result.warnings:
        sys.stderr.write(f"warning: {warning}\n")
    for path in (result.text, result.mmproj, result.manifest):
        sys.stdout.write(f"wrote {path}\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _run(args)
    except (FakeScopeError, KeyError) as exc:
        if os.environ.get("FAKESCOPE_DEBUG") == "1":
            raise
        from conversion.inspect_gguf import escape

        message = f"checkpoint config lacks the key {exc}" if isinstance(exc, KeyError) else str(exc)
        sys.stderr.write(f"error: {escape(message)}\n")
        return 2
