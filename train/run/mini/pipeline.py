"""`python -m train mini-run`: the FakeScope-mini run end to end, one resumable stage at a time.

photos -> generators trained on them -> generated images -> identical processing -> validation ->
FakeChain -> FakeInstruct -> starting checkpoint -> instruction tuning -> merge, export, quantize ->
evaluation (checkpoint and GGUF side by side) -> CPU speed -> model card.

Each stage calls the same ``python -m train`` command a person would type, and records what it did
in ``WORK/stages/<stage>.json``; a stage whose record exists is skipped on the next run, so a run cut
off (or split across machines: the GPU stages end with ``sft``) continues where it stopped.
"""

from __future__ import annotations

import json
import os
import platform
import shlex
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fakescope_cli.errors import ConfigError
from train.run.mini.plan import MiniPlan, init_checkpoint

STAGES = (
    "crops",
    "generators",
    "generate",
    "process",
    "validate",
    "fakechain",
    "fakeinstruct",
    "init",
    "sft",
    "export",
    "eval",
    "bench",
    "card",
)
GPU_STAGES = ("generators", "generate", "sft")


@dataclass(frozen=True)
class Run:
    plan: MiniPlan
    work: Path
    log: Callable[[str], None]

    def path(self, *parts: str) -> Path:
        return self.work.joinpath(*parts)

    def train(self, *argv: object) -> None:
        """One ``python -m train`` command, in this process; a failure stops the run naming it."""
        from train.cli import main

        args = [str(a) for a in argv]
        self.log("$ python -m train " + shlex.join(args))
        if main(args) != 0:
            raise ConfigError(f"stage command failed: python -m train {shlex.join(args)}")


def _record_path(run: Run, stage: str) -> Path:
    return run.path("stages", f"{stage}.json")


def _write_record(run: Run, stage: str, record: dict[str, Any]) -> None:
    path = _record_path(run, stage)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.replace(path)


def _device() -> str:
    try:
        import torch

        return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except ImportError:
        return "cpu"


# --- the stages -------------------------------------------------------------------------------


def _photo_crops(
    run: Run,
    name: str,
    per_photo: int,
    seed: int,
    splits: dict[str, str],
    keep: set[str],
    limit: int | None = None,
) -> int:
    """Crops of the photographs whose split is in ``keep``, with ``manifest.csv`` (path,photo_id,
    split) giving each crop its photograph's split in the real class (``splits``). With ``limit``,
    only that many, taken round-robin over the photographs (first crops first), so every photo
    has its share whichever file names sort first."""
    import csv

    every = run.path("crops", f"{name}-all")
    photos = run.plan.photos
    run.train("photos-crops", "--pool", photos.pool, "--size", photos.size, "--out", every,
              "--per-photo", per_photo, "--seed", seed)  # fmt: skip
    chosen = run.path("crops", name)
    shutil.rmtree(chosen, ignore_errors=True)
    chosen.mkdir(parents=True)
    with (every / "manifest.csv").open(newline="") as fh:
        candidates = [row for row in csv.DictReader(fh) if splits[row["photo_id"]] in keep]
    turn: dict[str, int] = {}
    order = []
    for row in candidates:  # the n-th crop of each photo before any photo's (n+1)-th
        turn[row["photo_id"]] = turn.get(row["photo_id"], -1) + 1
        order.append((turn[row["photo_id"]], row["photo_id"], row["path"]))
    rows = []
    for _, photo_id, path in sorted(order)[:limit]:
        target = Path(path).name
        os.link(every / path, chosen / target)
        rows.append((target, photo_id, splits[photo_id]))
    with (chosen / "manifest.csv").open("w", newline="") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerows([("path", "photo_id", "split"), *rows])
    return len(rows)


def stage_crops(run: Run) -> dict[str, Any]:
    """Real-class crops split by photo; generator-training crops of the training photographs only,
    so no val or test photo ever reaches a generator's training. Re-synthesis sources come from
    every photograph, and each re-synthesised image later takes its photograph's split: a test
    image's content was never seen in training, in either class."""
    import csv

    photos, seed = run.plan.photos, run.plan.run.seed
    real = run.path("crops", "real")
    run.train("photos-crops", "--pool", photos.pool, "--size", photos.size, "--out", real,
              "--per-photo", photos.per_photo, "--seed", seed)  # fmt: skip
    with (real / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    splits = {row["photo_id"]: row["split"] for row in rows}
    train_photos = {photo for photo, split in splits.items() if split == "train"}
    per_split = {s: sum(1 for row in rows if row["split"] == s) for s in ("train", "val", "test")}
    generator = _photo_crops(run, "generator-train", photos.generator_per_photo, seed + 1, splits, {"train"})
    # enough re-synthesis sources for generators.count images
    per_photo = -(-run.plan.generators.count // max(1, len(splits)))
    everywhere = {"train", "val", "test"}
    count = run.plan.generators.count
    resynth = _photo_crops(run, "resynth-source", per_photo, seed + 2, splits, everywhere, count)
    return {
        "real_crops": per_split,
        "photos": len({row["photo_id"] for row in rows}),
        "train_photos": len(train_photos),
        "generator_train_crops": generator,
        "resynth_source_crops": resynth,
    }


def stage_generators(run: Run) -> dict[str, Any]:
    generators, families = run.plan.generators, {}
    for family in generators.families:
        out = run.path("generators", family)
        if (out / "config.json").is_file() and (out / "weights.safetensors").is_file():
            run.log(f"generators: {family} trained earlier, kept")  # a call cut off mid-stage
        else:
            _train_generator(run, family, out)
        config = json.loads((out / "config.json").read_text())
        families[family] = {
            key: config.get(key) for key in ("steps", "batch_size", "width", "seconds", "device")
        }
        families[family]["losses"] = {k: [v["first"], v["last"]] for k, v in config.get("losses", {}).items()}
    return {"families": families}


def _train_generator(run: Run, family: str, out: Path) -> None:
    generators = run.plan.generators
    args: list[object] = ["synth-train", "--family", family, "--photos", run.path("crops", "generator-train")]
    args += ["--out", out, "--image-size", run.plan.photos.size, "--seed", run.plan.run.seed]
    args += ["--device", run.plan.run.device]
    overrides = {
        "--steps": generators.steps,
        "--batch-size": generators.batch_size,
        "--width": generators.width,
    }
    for flag, value in overrides.items():
        if value:
            args += [flag, value]
    run.train(*args)


def stage_generate(run: Run) -> dict[str, Any]:
    from train.generators.registry import FAMILIES

    for family in run.plan.generators.families:
        args = [
            "synth-generate",
            "--weights",
            run.path("generators", family),
            "--count",
            run.plan.generators.count,
        ]
        args += [
            "--out",
            run.path("generated", family),
            "--seed",
            run.plan.run.seed,
            "--device",
            run.plan.run.device,
        ]
        if FAMILIES[family].needs_source:
            args += ["--source", run.path("crops", "resynth-source")]
        run.train(*args)
        if FAMILIES[family].needs_source:
            _source_splits(run, family)
    return {}


def _source_splits(run: Run, family: str) -> None:
    """``generated/FAMILY/manifest.csv``: each re-synthesised image in its source photo's split."""
    import csv

    from train.generators.generate import image_name

    folder, sources = run.path("generated", family), run.path("crops", "resynth-source")
    with (sources / "manifest.csv").open(newline="") as fh:
        split_of = {row["path"]: row["split"] for row in csv.DictReader(fh)}
    generation = json.loads((folder / "generation.json").read_text())
    seed, names = generation["seed"], generation["sources"]
    rows = [(image_name(family, seed, index), split_of[name]) for index, name in enumerate(names)]
    partial = folder / "manifest.csv.partial"
    with partial.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([("path", "split"), *rows])
    partial.replace(folder / "manifest.csv")


def stage_process(run: Run) -> dict[str, Any]:
    plan = run.plan
    args: list[object] = [
        "process",
        "--real",
        run.path("crops", "real", "manifest.csv"),
        "--out",
        run.path("data"),
    ]
    for family in plan.generators.families:
        args += ["--fake", f"{family}={run.path('generated', family)}"]
    args += ["--size", plan.photos.size, "--quality", plan.data.quality, "--seed", plan.run.seed]
    args += ["--holdout", plan.generators.holdout]
    run.train(*args)
    return {}


# Features that only processing can make differ between the classes; file size also follows the
# content (how well an image compresses), so it is recorded but does not stop the run.
PROCESSING_FEATURES = ("format", "jpeg_quality", "width", "height", "aspect")


def stage_validate(run: Run) -> dict[str, Any]:
    """The shortcut check on the processed set: the run stops if format, JPEG quality or size
    alone (or together) separate the classes."""
    from train.data.dataset import load_dataset
    from train.data.validate import SHORTCUT_AUC, validate_dataset

    report = validate_dataset(load_dataset(run.path("data")))
    run.log("\n".join(f"validate: {w}" for w in report.warnings) or "validate: no warnings")
    leaks = {f: report.separability.get(f) for f in PROCESSING_FEATURES}
    leaks["combined"] = report.combined_auc
    found = {f: v for f, v in leaks.items() if v is not None and v >= SHORTCUT_AUC}
    if found:
        listed = ", ".join(f"{f} AUC {v:.2f}" for f, v in found.items())
        raise ConfigError(
            f"{run.path('data')}: processing shortcut ({listed}); the classes were not processed alike"
        )
    return {
        "separability": report.separability,
        "combined_auc": report.combined_auc,
        "threshold": SHORTCUT_AUC,
        "warnings": report.warnings,
        "counts": report.counts,
    }


def stage_fakechain(run: Run) -> dict[str, Any]:
    run.train("fakechain", run.path("data"), "--out", run.path("chain.jsonl"))
    return {}


def stage_fakeinstruct(run: Run) -> dict[str, Any]:
    args: list[object] = ["fakeinstruct", run.path("chain.jsonl"), "--out", run.path("instruct.json")]
    if run.plan.export.profile is not None:
        args += ["--profile", run.plan.export.profile]
    run.train(*args, "--seed", run.plan.run.seed)
    return {}


def _base(run: Run) -> Path:
    return init_checkpoint(run.plan) or run.path("init")


def stage_init(run: Run) -> dict[str, Any]:
    if init_checkpoint(run.plan) is None:
        args: list[object] = ["mini-init", "--out", run.path("init"), "--seed", run.plan.run.seed]
        if run.plan.model.text_gguf:
            args += ["--text-gguf", run.plan.model.text_gguf]
        run.train(*args, *run.plan.model.init_args)
    record_path = _base(run) / "fakescope_init.json"
    record = json.loads(record_path.read_text()) if record_path.is_file() else {}
    keep = ("parameters", "text_source", "vision", "image_seq_len")
    return {"checkpoint": str(_base(run)), **{key: record[key] for key in keep if key in record}}


def _sft_config(run: Run) -> Path:
    """The instruction-tuning config: the plan's [sft] table as its [train] table."""
    lines = [f"[model]\ncheckpoint = {json.dumps(str(_base(run)))}"]
    lines.append(f"[data]\ntrain = {json.dumps(str(run.path('instruct.json')))}")
    table = {"output_dir": str(run.path("sft")), "seed": run.plan.run.seed, **run.plan.sft}
    lines.append("[train]\n" + "\n".join(f"{k} = {json.dumps(v)}" for k, v in table.items()))
    lines.append("[export]\nenabled = false")
    path = run.path("sft.toml")
    path.write_text("\n".join(lines) + "\n")
    return path


def stage_sft(run: Run) -> dict[str, Any]:
    config = _sft_config(run)
    started = time.monotonic()
    run.train("sft", "--config", config)
    training = json.loads(run.path("sft", "merged", "fakescope-training.json").read_text())
    losses = training.get("losses") or [None]
    return {
        "command": f"python -m train sft --config {config.name}",
        "steps": training.get("steps"),
        "loss_first": losses[0],
        "loss_last": losses[-1],
        "seconds": time.monotonic() - started,
        "device": _device(),
    }


def stage_export(run: Run) -> dict[str, Any]:
    """Merge the adapter into the starting checkpoint (this machine may not be the one that
    trained), then export and quantize with our converter."""
    export, models = run.plan.export, run.path("models")
    merged = run.path("sft", "merged")
    adapter = run.path("sft", "adapter")
    if not (_base(run) / "config.json").is_file() and init_checkpoint(run.plan) is None:
        stage_init(run)  # handed back without it: mini-init rebuilds the same start here
    if not (merged / "config.json").is_file() and adapter.is_dir():
        run.train("merge-adapter", "--base", _base(run), "--adapter", adapter, "--out", merged)
    from conversion.export import export_checkpoint
    from fakescope_cli.card import load_card_toml
    from fakescope_cli.profile import DEFAULT_PROFILE, load_profile_toml

    profile = load_profile_toml(export.profile) if export.profile else DEFAULT_PROFILE
    card = load_card_toml(export.card) if export.card else None
    run.log(f"exporting {merged} at {export.quant}")
    result = export_checkpoint(
        merged,
        models,
        name=export.name,
        quant=export.quant,
        mmproj_quant=export.mmproj_quant or None,
        profile=profile,
        card=card,
    )
    from fakescope_cli.models import file_sha256

    files = [
        {"name": p.name, "bytes": p.stat().st_size, "sha256": file_sha256(p)}
        for p in (result.text, result.mmproj)
    ]
    record = {"text": str(result.text), "mmproj": str(result.mmproj), "quant": export.quant, "files": files}
    return record | {"mmproj_quant": export.mmproj_quant or "default"}


def stage_eval(run: Run) -> dict[str, Any]:
    export = json.loads(_record_path(run, "export").read_text())
    args: list[object] = ["eval", run.path("data"), "--checkpoint", run.path("sft", "merged")]
    args += ["--gguf", export["text"], "--mmproj", export["mmproj"], "--explain", run.plan.eval.explain]
    args += [
        "--train-generators",
        ",".join(f for f in run.plan.generators.families if f != run.plan.generators.holdout),
    ]
    run.train(*args, "--out", run.path("eval.json"))
    return {}


def stage_bench(run: Run) -> dict[str, Any]:
    """``fakescope scan`` (score only) on test images in a child process: images/s and its peak
    RSS, timed as ``make bench`` times the shipped model (:func:`fakescope_cli.bench_mini.time_scan`)."""
    import csv

    from fakescope_cli.bench_mini import time_scan

    export = json.loads(_record_path(run, "export").read_text())
    rows = [r for r in csv.DictReader(run.path("data", "manifest.csv").open()) if r["split"] == "test"]
    images = [run.path("data", r["path"]) for r in rows[: run.plan.eval.bench_images]]
    if not images:
        raise ConfigError(f"{run.path('data')}: no test images to time")
    extra = ["--workers", "1", "--model", export["text"], "--mmproj", export["mmproj"]]
    try:
        timed = time_scan(images, False, extra)
    except RuntimeError as exc:
        raise ConfigError(f"bench: {exc}") from None
    bench = {
        "images": timed["images"],
        "seconds": timed["seconds"],
        "images_per_s": timed["images_per_s"],
        "peak_rss_mb": timed["peak_rss_mib"],
        "threads": os.cpu_count(),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "includes": "process start and model load",
    }
    run.path("bench.json").write_text(json.dumps(bench, indent=2) + "\n")
    return bench


def stage_card(run: Run) -> dict[str, Any]:
    from fakescope_cli.card import load_card_toml
    from train.run.mini.card import read_inputs, render_card

    export = run.plan.export
    card_toml = load_card_toml(export.card) if export.card else None
    caveat = (card_toml.caveat if card_toml else None) or "No model card was given for this run."
    limits = (card_toml.limits if card_toml else None) or "None stated."
    inputs = read_inputs(run.work, run.plan.photos.pool, export.name, caveat, limits)
    card = run.path("models", "MODEL_CARD.md")
    card.parent.mkdir(parents=True, exist_ok=True)
    card.write_text(render_card(inputs, run.plan.generators.holdout))
    return {"card": str(card)}


STAGE_FUNCTIONS: dict[str, Callable[[Run], dict[str, Any]]] = {
    name: globals()[f"stage_{name}"] for name in STAGES
}


def select_stages(first: str | None, last: str | None) -> list[str]:
    for name in (first, last):
        if name is not None and name not in STAGES:
            raise ConfigError(f"unknown stage '{name}'; stages: {', '.join(STAGES)}")
    start = STAGES.index(first) if first else 0
    end = STAGES.index(last) if last else len(STAGES) - 1
    if start > end:
        raise ConfigError(f"stage '{first}' comes after '{last}'")
    return list(STAGES[start : end + 1])


def run_plan(
    plan: MiniPlan,
    work: Path,
    stages: list[str],
    redo: bool = False,
    log: Callable[[str], None] = lambda line: None,
) -> list[str]:
    """Run ``stages`` in order; returns the names run (skipped ones left out)."""
    run = Run(plan, work, log)
    work.mkdir(parents=True, exist_ok=True)
    done = []
    for stage in stages:
        if _record_path(run, stage).is_file() and not redo:
            log(f"== {stage}: done earlier, skipped")
            continue
        log(f"== {stage}")
        started = time.monotonic()
        record = STAGE_FUNCTIONS[stage](run)
        record.setdefault("seconds", time.monotonic() - started)
        _write_record(run, stage, record)
        done.append(stage)
    return done
