"""`python -m conversion`: export a checkpoint, or list supported architectures."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from conversion.base import OUTTYPES
from conversion.registry import supported_architectures
from fakescope_cli.errors import FakeScopeError
from fakescope_cli.profile import load_profile_toml


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m conversion", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    export = sub.add_parser("export", help="write NAME.gguf + NAME.mmproj.gguf + NAME.manifest.json")
    export.add_argument("checkpoint", type=Path, help="Hugging Face checkpoint folder")
    export.add_argument("--out", type=Path, required=True, help="output folder")
    export.add_argument("--name", help="file name stem (default: the checkpoint folder's name)")
    export.add_argument("--outtype", choices=sorted(OUTTYPES), default="f16")
    export.add_argument("--profile", type=Path, help="profile TOML: judge prompt, label words ...")
    sub.add_parser("list", help="supported architectures")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command == "list":
            sys.stdout.write("\n".join(supported_architectures()) + "\n")
            return 0
        from conversion.export import export_checkpoint

        profile = load_profile_toml(args.profile) if args.profile else None
        result = export_checkpoint(
            args.checkpoint, args.out, name=args.name, outtype=args.outtype, profile=profile
        )
    except (FakeScopeError, KeyError) as exc:
        if os.environ.get("FAKESCOPE_DEBUG") == "1":
            raise
        message = f"checkpoint config lacks the key {exc}" if isinstance(exc, KeyError) else str(exc)
        sys.stderr.write(f"error: {message}\n")
        return 2
    for path in (result.text, result.mmproj, result.manifest):
        sys.stdout.write(f"wrote {path}\n")
    return 0
