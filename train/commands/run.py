"""`python -m train mini-run`: the FakeScope-mini run from a plan, stage by stage."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from train.run.mini.pipeline import GPU_STAGES, STAGES


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    run = subparsers.add_parser(
        "mini-run",
        help="the FakeScope-mini run end to end from a plan (resumable, stage by stage)",
        description=f"Stages: {', '.join(STAGES)}. The ones that want a GPU: {', '.join(GPU_STAGES)}. "
        "A stage recorded as done in WORK/stages/ is skipped unless --redo.",
    )
    run.add_argument(
        "--plan", type=Path, required=True, help="the run plan (TOML), e.g. train/run/mini/plan.toml"
    )
    run.add_argument("--work", type=Path, required=True, help="the run folder (created)")
    run.add_argument("--from", dest="first", metavar="STAGE", help="first stage to run")
    run.add_argument("--to", dest="last", metavar="STAGE", help="last stage to run")
    run.add_argument("--redo", action="store_true", help="run stages again even if recorded as done")
    handlers["mini-run"] = run_mini_command
    add_transfer_commands(subparsers, handlers)


def run_mini_command(args: argparse.Namespace) -> int:
    from train.run.mini.pipeline import run_plan, select_stages
    from train.run.mini.plan import load_plan

    plan = load_plan(args.plan)
    stages = select_stages(args.first, args.last)

    def log(line: str) -> None:
        sys.stderr.write(line + "\n")
        sys.stderr.flush()

    ran = run_plan(plan, args.work, stages, args.redo, log)
    sys.stdout.write(f"ran: {', '.join(ran) or 'nothing (all recorded as done)'}\n")
    return 0


def add_transfer_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    pack = subparsers.add_parser(
        "mini-pack", help="put what the rest of a run needs (adapter, records, test images) into small parts"
    )
    pack.add_argument("--work", type=Path, required=True, help="the run folder")
    pack.add_argument(
        "--out", type=Path, required=True, help="where the parts go (e.g. $OUT on the GPU machine)"
    )
    pack.add_argument("--part-mb", type=float, default=15.0, help="largest part in MiB (default 15)")
    handlers["mini-pack"] = run_pack_command
    unpack = subparsers.add_parser(
        "mini-unpack", help="join, verify and extract mini-pack's parts into a run folder"
    )
    unpack.add_argument("parts", type=Path, help="folder with the parts and stage-manifest.json")
    unpack.add_argument("--work", type=Path, required=True, help="the run folder to fill")
    handlers["mini-unpack"] = run_unpack_command


def run_pack_command(args: argparse.Namespace) -> int:
    from train.run.mini.transfer import pack

    result = pack(args.work, args.out, args.part_mb)
    sys.stdout.write(
        f"packed {result.files} files ({result.archive_bytes / 2**20:.1f} MiB) "
        f"into {len(result.parts)} files in {args.out}\n"
    )
    return 0


def run_unpack_command(args: argparse.Namespace) -> int:
    from train.run.mini.transfer import unpack

    count = unpack(args.parts, args.work)
    sys.stdout.write(f"extracted {count} files into {args.work}\n")
    return 0
