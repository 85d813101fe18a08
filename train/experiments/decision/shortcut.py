"""Shortcut check on the prepared crops: can a trivial feature separate real from fake?

    OMP_NUM_THREADS=1 .venv/bin/python -m train.experiments.decision.shortcut

Per crop, from the final JPEG file: JPEG quality (mean luminance quantiser step), file size,
mean brightness, RGB standard deviation, mean |Laplacian| (detail), and an "old JPEG grid" score
(blockiness of the source photo's own 8x8 grid: the largest column/row-phase boundary energy
over the 7 non-zero phases, relative to the median; the final re-encode's grid is at phase 0 for
both classes).  AUC of each alone (real vs fake, per split), and a 5-fold cross-validated
logistic regression on the processing-only features (quality, size of the JPEG tables' grid,
brightness, std) and on all of them.  Writes build/exp/data/shortcut.json.
"""

from __future__ import annotations

import csv
import io
import json

import numpy as np
import torch
from PIL import Image

from train.experiments.decision.common import DATA, say
from train.experiments.decision.run import auc


def grid_score(g: np.ndarray) -> float:
    dx = np.abs(np.diff(g, axis=1)).mean(0)  # boundary between col c and c+1
    dy = np.abs(np.diff(g, axis=0)).mean(1)
    px = np.array([dx[p::8].mean() for p in range(8)])  # phase p: boundary after column 8k+p
    py = np.array([dy[p::8].mean() for p in range(8)])
    # phase 7 = boundary between col 8k+7 and 8k+8: the final encode's own grid; drop it
    e = 1e-3
    return float(
        max((px[:7].max() + e) / (np.median(px[:7]) + e), (py[:7].max() + e) / (np.median(py[:7]) + e))
    )


def features(path: str) -> list[float]:
    data = (DATA / path).read_bytes()
    with Image.open(io.BytesIO(data)) as im:
        q = float(np.mean(im.quantization[0]))  # type: ignore[attr-defined]
        a = np.asarray(im.convert("RGB"), dtype=np.float64)
    g = a.mean(2)
    lap = np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).mean()
    return [q, len(data), a.mean(), a.std(), lap, grid_score(g)]


NAMES = ["jpeg_quant_step", "file_bytes", "brightness", "rgb_std", "laplacian", "old_jpeg_grid"]


def _fit(xt: torch.Tensor, yt: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """L2-regularised logistic regression by L-BFGS."""
    w = torch.zeros(xt.shape[1], dtype=torch.float64, requires_grad=True)
    b = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.LBFGS([w, b], max_iter=200)

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(xt @ w + b, yt) + 1e-3 * (w * w).sum()
        loss.backward()
        return loss

    opt.step(closure)
    return w, b


def cv_logreg(x: np.ndarray, y: np.ndarray, folds: int = 5, seed: int = 0) -> float:
    x = (x - x.mean(0)) / (x.std(0) + 1e-9)
    order = np.random.default_rng(seed).permutation(len(y))
    scores = np.zeros(len(y))
    for k in range(folds):
        te = order[k::folds]
        tr = np.setdiff1d(order, te)
        w, b = _fit(torch.tensor(x[tr], dtype=torch.float64), torch.tensor(y[tr], dtype=torch.float64))
        scores[te] = (torch.tensor(x[te]) @ w + b).detach().numpy()
    return auc(scores[y == 0], scores[y == 1])


def main() -> None:
    with open(DATA / "manifest.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    feats = np.array([features(r["path"]) for r in rows])
    y = np.array([int(r["label"]) for r in rows])
    split = np.array([r["split"] for r in rows])
    fam = np.array([r["family"] for r in rows])
    out: dict = {"n": len(rows), "single_feature_auc": {}, "per_family": {}}
    for sp in ("train", "test"):
        m = split == sp
        out["single_feature_auc"][sp] = {
            n: round(auc(feats[m & (y == 0), j], feats[m & (y == 1), j]), 3) for j, n in enumerate(NAMES)
        }
    for f in sorted(set(fam) - {"real"}):
        sp = "test"
        m = (split == sp) & ((fam == f) | (fam == "real"))
        out["per_family"][f] = {
            n: round(auc(feats[m & (y == 0), j], feats[m & (y == 1), j]), 3) for j, n in enumerate(NAMES)
        }
    m = split == "train"
    out["cv_logreg_auc_train"] = {
        "processing_only(quality,brightness,std)": round(cv_logreg(feats[m][:, [0, 2, 3]], y[m]), 3),
        "with_old_jpeg_grid": round(cv_logreg(feats[m][:, [0, 2, 3, 5]], y[m]), 3),
        "all_six": round(cv_logreg(feats[m], y[m]), 3),
    }
    (DATA / "shortcut.json").write_text(json.dumps(out, indent=1))
    say(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
