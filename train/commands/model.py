"""`python -m train sft` and `python -m train eval`: the model side of the training path."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from fakescope_cli.errors import ConfigError
from fakescope_cli.profile import DEFAULT_PROFILE, ModelProfile, load_profile_toml


def add_commands(subparsers: argparse._SubParsersAction, handlers: dict) -> None:
    sft = subparsers.add_parser("sft", help="instruction-tune a checkpoint and export it to GGUF")
    sft.add_argument("--config", type=Path, required=True, help="run settings (TOML)")
    handlers["sft"] = run_sft_command

    evaluation = subparsers.add_parser(
        "eval", help="closed- and open-ended evaluation, HF and GGUF side by side"
    )
    evaluation.add_argument("data", type=Path, help="dataset folder or manifest (CSV/JSONL)")
    evaluation.add_argument("--checkpoint", type=Path, help="Hugging Face checkpoint folder")
    evaluation.add_argument("--gguf", type=Path, help="text GGUF of the export")
    evaluation.add_argument("--mmproj", type=Path, help="projector GGUF (default: beside --gguf)")
    evaluation.add_argument(
        "--profile", type=Path, help="profile TOML (default: from the GGUF, else built in)"
    )
    evaluation.add_argument("--split", default="test", help="which split to evaluate (default: test)")
    evaluation.add_argument(
        "--train-generators",
        help="families seen in training, comma-separated (default: the data's train split)",
    )
    evaluation.add_argument(
        "--explain", type=int, default=0, help="check N explanations against the evidence"
    )
    evaluation.add_argument("--out", type=Path, help="write the full report as JSON here")
    handlers["eval"] = run_eval_command

    merge = subparsers.add_parser(
        "merge-adapter", help="merge a LoRA run's adapter folder into its base checkpoint (and export)"
    )
    merge.add_argument("--base", type=Path, required=True, help="the checkpoint the run started from")
    merge.add_argument("--adapter", type=Path, required=True, help="the run's OUTPUT/adapter folder")
    merge.add_argument("--out", type=Path, required=True, help="where the merged checkpoint goes")
    merge.add_argument("--export", type=Path, metavar="DIR", help="also export the GGUF pair here")
    merge.add_argument("--name", default="fakescope-sft", help="file name stem of the export")
    merge.add_argument("--quant", default="f16", help="a text type of `conversion export` (default f16)")
    merge.add_argument("--profile", type=Path, help="profile TOML written into the GGUF")
    handlers["merge-adapter"] = run_merge_command


def run_sft_command(args: argparse.Namespace) -> int:
    from train.model.config import load_config
    from train.model.sft import run_sft

    result = run_sft(load_config(args.config))
    sys.stdout.write(f"steps: {result.steps}\n")
    if result.losses:
        sys.stdout.write(f"loss: {result.losses[0]:.4f} -> {result.losses[-1]:.4f}\n")
    sys.stdout.write(f"merged checkpoint: {result.merged}\n")
    if result.gguf is not None:
        sys.stdout.write(f"wrote {result.gguf}\nwrote {result.mmproj}\n")
    return 0


def run_merge_command(args: argparse.Namespace) -> int:
    from train.model.adapter import merge_adapter

    if args.profile is not None:
        load_profile_toml(args.profile)  # a bad profile stops before the merge, not after it
    result = merge_adapter(args.base, args.adapter, args.out)
    sys.stdout.write(f"checked {result.frozen_tensors} frozen tensors against the adapter's base\n")
    sys.stdout.write(f"merged checkpoint: {result.merged}\n")
    if args.export is not None:
        from conversion.export import export_checkpoint

        profile = load_profile_toml(args.profile) if args.profile else DEFAULT_PROFILE
        exported = export_checkpoint(
            result.merged, args.export, name=args.name, quant=args.quant, profile=profile
        )
        sys.stdout.write(f"wrote {exported.text}\nwrote {exported.mmproj}\n")
    return 0


def _profile(args: argparse.Namespace, engine_profile: ModelProfile | None) -> ModelProfile:
    if args.profile is not None:
        return load_profile_toml(args.profile)
    return engine_profile or DEFAULT_PROFILE


def run_eval_command(args: argparse.Namespace) -> int:
    from train.data.dataset import load_dataset, normalise_generator
    from train.run.evaluate import evaluate, explanation_agreement, format_table, gguf_scorer, hf_scorer

    if args.checkpoint is None and args.gguf is None:
        raise ConfigError("give --checkpoint, --gguf, or both")
    records = load_dataset(args.data)
    test = [r for r in records if r.split == args.split]
    if not test:
        raise ConfigError(f"{args.data}: no images in split '{args.split}'")
    if args.train_generators:
        seen = {
            normalise_generator(g.strip(), "--train-generators", None)
            for g in args.train_generators.split(",")
            if g.strip()
        }
    else:
        seen = {r.generator for r in records if r.split == "train" and r.label == "fake" and r.generator}
    engine = None
    scorers = {}
    try:
        if args.gguf is not None:
            from fakescope_cli.engine.llama_engine import LlamaEngine
            from fakescope_cli.models import locate_model, validate_pair

            files = locate_model(args.gguf, args.mmproj)
            validate_pair(files)
            engine = LlamaEngine(files)
        profile = _profile(args, engine.profile if engine else None)
        if args.checkpoint is not None:
            scorers["hf"] = hf_scorer(args.checkpoint, profile)
        if engine is not None:
            scorers["gguf"] = gguf_scorer(engine)
        report = evaluate(test, scorers, seen)
        if args.explain and engine is not None:
            from fakescope_cli.imageio import as_loaded, decode_image, read_image_file
            from fakescope_cli.results import DecodingSettings

            texts = {}
            step = max(1, len(test) // args.explain)  # spread over the set, not its first photo
            for record in test[::step][: args.explain]:
                loaded = as_loaded(record.path, decode_image(record.path, read_image_file(record.path)))
                texts[record.path] = engine.explain(loaded, DecodingSettings(max_tokens=128))[1]
            report.explanations = explanation_agreement(texts)
    finally:
        if engine is not None:
            engine.close()
    sys.stdout.write(format_table(report) + "\n")
    if report.explanations:
        checks = report.explanations
        share = checks["share_agreeing"]
        sys.stdout.write(
            f"explanations: {checks['agree']} agree, {checks['disagree']} disagree, "
            f"{checks['unverifiable']} make no measurable claim"
            + (f" (share agreeing {share:.2f})" if share is not None else "")
            + "\n"
        )
    if args.out is not None:
        args.out.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
    return 0
