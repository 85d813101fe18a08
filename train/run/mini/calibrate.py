"""Fit FakeScope-mini's calibration: p(fake) = sigmoid(a * mean crop logit + b), by logistic
regression (Platt scaling) on whole validation images scored by the exported GGUF itself, as
`fakescope scan` scores them. Validation photos and the families trained on only: the test
figures, and the held-out families, stay untouched by the fit.

    python -m train.run.mini.calibrate --images runs/mini-cpu/eval-images/val/manifest.csv \\
        --gguf models/fakescope-mini/fakescope-mini.gguf --seen esrgan-av3-x2,cugan-up2x,ae-tiny \\
        --out train/run/mini/calibration.json
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
from pathlib import Path

import numpy as np


def fit_platt(logits: np.ndarray, labels: np.ndarray) -> tuple[float, float]:
    """(a, b) minimising the log loss of sigmoid(a x + b) (L-BFGS from the identity; a small
    ridge on a - 1 and b keeps the fit finite on a small, separable set)."""
    from scipy.optimize import minimize

    def loss(params: np.ndarray) -> float:
        z = params[0] * logits + params[1]
        # log(1 + e^-z) for fakes, log(1 + e^z) for reals, computed stably
        nll = np.logaddexp(0.0, -z) * labels + np.logaddexp(0.0, z) * (1 - labels)
        return float(nll.mean() + 1e-3 * ((params[0] - 1.0) ** 2 + params[1] ** 2))

    found = minimize(loss, np.array([1.0, 0.0]), method="L-BFGS-B", bounds=[(0.05, 20.0), (-50.0, 50.0)])
    return float(found.x[0]), float(found.x[1])


def main() -> None:
    from fakescope_cli.engine.llama_engine import LlamaEngine
    from fakescope_cli.imageio import as_loaded, decode_image, read_image_file
    from fakescope_cli.models import locate_model
    from train.run.metrics import expected_calibration_error, roc_auc

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--images", type=Path, required=True, help="validation images' manifest")
    parser.add_argument("--gguf", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument(
        "--seen", required=True, help="families trained on, comma-separated: the fit sees only these"
    )
    args = parser.parse_args()
    seen = {f.strip() for f in args.seen.split(",") if f.strip()}
    rows = [r for r in csv.DictReader(args.images.open()) if r["label"] == "real" or r["generator"] in seen]
    logits, labels = [], []
    with LlamaEngine(locate_model(args.gguf)) as engine:
        if (engine.profile.logit_scale, engine.profile.logit_offset) != (1.0, 0.0):
            raise SystemExit("calibrate: the model is calibrated already; fit on the uncalibrated export")
        for n, row in enumerate(rows, start=1):
            path = args.images.parent / row["path"]
            score = engine.score(as_loaded(path, decode_image(path, read_image_file(path))))
            assert score.view is not None
            logits.append(sum(c.logit for c in score.view.crops) / len(score.view.crops))
            labels.append(1 if row["label"] == "fake" else 0)
            if n % 20 == 0:
                sys.stderr.write(f"calibrate: {n}/{len(rows)} images\n")
    x, y = np.array(logits), np.array(labels, dtype=np.float64)
    a, b = fit_platt(x, y)
    before = 1 / (1 + np.exp(-x))
    after = 1 / (1 + np.exp(-(a * x + b)))
    record = {
        "images": len(rows),
        "fake": int(y.sum()),
        "photos": len({r["source"] for r in rows}),
        "families": sorted(seen),
        "logit_scale": round(a, 4),
        "logit_offset": round(b, 4),
        "val_roc_auc": roc_auc(y, x),
        "val_ece_before": expected_calibration_error(y, before),
        "val_ece_after": expected_calibration_error(y, 1 / (1 + np.exp(-(round(a, 4) * x + round(b, 4))))),
        "val_accuracy_before": float(((before >= 0.5) == y).mean()),
        "val_accuracy_after": float(((after >= 0.5) == y).mean()),
        "mean_logit_real": float(x[y == 0].mean()),
        "mean_logit_fake": float(x[y == 1].mean()),
        "per_image": [
            {"path": r["path"], "label": r["label"], "mean_logit": v}
            for r, v in zip(rows, logits, strict=True)
        ],
    }
    args.out.write_text(json.dumps(record, indent=2) + "\n")
    sys.stdout.write(json.dumps(record, indent=2) + "\n")
    sys.stdout.write(
        f"profile lines:\nlogit_scale = {record['logit_scale']}\nlogit_offset = {record['logit_offset']}\n"
    )
    assert math.isfinite(a) and math.isfinite(b)


if __name__ == "__main__":
    main()
