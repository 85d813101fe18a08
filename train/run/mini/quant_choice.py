"""Which storage types FakeScope-mini ships in: each candidate text (and projector) type scored on
the 261 whole test images through `fakescope`'s engine, against the PyTorch checkpoint's own
scores from the evaluation run (``eval-test.json``, uncalibrated): ROC-AUC on the trained and the
held-out families, mean |mean crop logit - checkpoint's|, and seconds per image.

    python -m train.run.mini.quant_choice --checkpoint runs/mini-cpu/sft/merged \\
        --eval runs/mini-cpu/eval-test.json --work runs/mini-cpu/quant-choice \\
        --out train/run/mini/quant-choice.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

CANDIDATES = (  # (text type, projector type)
    ("q4_k_m", "q8_0"),
    ("iq4_nl", "q8_0"),
    ("q4_0", "q8_0"),
    ("q8_0", "q8_0"),
    ("f16", "q8_0"),
    ("iq4_nl", "f32"),
)


def _logit(p: float) -> float:
    p = min(max(p, 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def mean_crop_logits(text: Path, mmproj: Path, paths: list[Path]) -> tuple[list[float], float]:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.imageio import load_image
    from fakescope_cli.models import ModelFiles

    with LlamaEngine(ModelFiles(text, mmproj, "quant-choice")) as engine:
        started = time.perf_counter()
        logits = []
        for path in paths:
            view = engine.score(load_image(path)).view
            assert view is not None
            logits.append(float(np.mean([c.logit for c in view.crops])))
        return logits, (time.perf_counter() - started) / len(paths)


def main() -> None:
    from conversion.export import export_checkpoint
    from fakescope_cli.profile import load_profile_toml
    from train.run.metrics import roc_auc

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--eval", type=Path, required=True, help="the checkpoint's evaluation record")
    parser.add_argument("--work", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", type=Path, default=Path("train/run/mini/profile.toml"))
    args = parser.parse_args()
    record = json.loads(args.eval.read_text())
    rows = record["per_image"]
    labels = [int(r["label"] != "real") for r in rows]
    reference = np.array([_logit(r["p_fake_hf"]) for r in rows])
    groups = {
        "trained families": set(record["seen_generators"]),
        "held out": set(record["held_out_generators"]),
    }
    profile = load_profile_toml(args.profile)
    results = {}
    for text_type, projector in CANDIDATES:
        name = f"{text_type}+{projector}"
        out = export_checkpoint(
            args.checkpoint, args.work, name=name, quant=text_type, mmproj_quant=projector, profile=profile
        )
        logits, seconds = mean_crop_logits(out.text, out.mmproj, [Path(r["path"]) for r in rows])
        scores = np.array(logits)
        auc = {"all": roc_auc(labels, logits)}
        for group, families in groups.items():
            keep = [i for i, r in enumerate(rows) if r["generator"] is None or r["generator"] in families]
            auc[group] = roc_auc([labels[i] for i in keep], [logits[i] for i in keep])
        results[name] = {
            "bytes": out.text.stat().st_size + out.mmproj.stat().st_size,
            "roc_auc": auc,
            "mean_abs_logit_diff_to_checkpoint": float(np.abs(scores - reference).mean()),
            "seconds_per_image": seconds,
        }
        sys.stdout.write(f"{name} {json.dumps(results[name])}\n")
        sys.stdout.flush()
    checkpoint_auc = {"all": roc_auc(labels, list(reference))}
    args.out.write_text(
        json.dumps(
            {"images": len(rows), "checkpoint_roc_auc": checkpoint_auc, "candidates": results}, indent=2
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
