"""Collect build/exp/runs/*/result.json into a markdown table (build/exp/table.md) and, where
matplotlib is importable, figures into train/experiments/decision/figures/.

    .venv/bin/python -m train.experiments.decision.report
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from train.experiments.decision.common import DATA, EXP, HELDOUT_FAMILIES, say

ORDER = ["vit-dct-p8", "vit-dct-p4", "vit-rand-p8", "mnv5-tiny", "cnn-ref"]
FIG = Path(__file__).with_name("figures")


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    """ROC-AUC (Mann-Whitney, ties averaged); numpy only, so this runs without torch/scipy."""
    x = np.concatenate([neg, pos])
    ranks = np.empty(len(x))
    ranks[x.argsort(kind="mergesort")] = np.arange(1, len(x) + 1)
    _, inv, cnt = np.unique(x, return_inverse=True, return_counts=True)
    ranks = (np.bincount(inv, weights=ranks) / cnt)[inv]
    return float((ranks[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2) / (len(neg) * len(pos)))


def lap_energy(a: np.ndarray) -> float:
    g = a.astype(np.float64).mean(axis=2)
    return float(np.abs(4 * g[1:-1, 1:-1] - g[:-2, 1:-1] - g[2:, 1:-1] - g[1:-1, :-2] - g[1:-1, 2:]).mean())


def load() -> list[dict]:
    out = []
    for name in ORDER:
        p = EXP / "runs" / name / "result.json"
        if p.exists():
            out.append(json.loads(p.read_text()))
    return out


def table(results: list[dict]) -> str:
    short = {"w2x-cunet-x2": "CUNet", "w2x-upconv7-x2": "UpConv7", "esrgan-x4plus-anime": "x4plus-anime"}
    head = (
        "| candidate | params | GFLOP/crop | steps | samples | train s | loss first→last 100 | train AUC "
        "| AUC seen | AUC seen upscalers | AUC AE | "
        + " | ".join(f"AUC {short[f]}" for f in HELDOUT_FAMILIES)
        + " | AUC held-out | FPR @ 50 % seen TPR | TPR seen @ 5 % FPR | TPR held-out @ 5 % FPR | ms/crop |"
    )
    lines = [head, "|" + "---|" * (head.count("|") - 1)]
    for r in results:
        for view in ("test_tiles", "test_whole"):
            if view not in r:
                continue
            m = r[view]
            pf = m["per_family_auc"]
            label = r["model"] + (" (2x2 tiles)" if view == "test_tiles" else " (whole 128 px)")
            gflop = (
                r["flops_per_crop_128_tiles"] if view == "test_tiles" else r["flops_per_crop_128_whole"]
            ) / 1e9
            ms = r["ms_per_crop_tiles_b1"] if view == "test_tiles" else r["ms_per_crop_whole_b1"]
            lines.append(
                f"| {label} | {r['params'] / 1e6:.2f} M | {gflop:.2f} | {r['steps']} | {r['samples_seen']} | "
                f"{r['train_seconds']:.0f} | {r['loss_first100']:.3f}→{r['loss_last100']:.3f} | "
                f"{r['train_auc_subsample']:.3f} | "
                f"{m['auc_seen']:.3f} | {m['auc_seen_upscalers']:.3f} | {pf['ae-tiny']:.3f} | "
                + " | ".join(f"{pf[f]:.3f}" for f in HELDOUT_FAMILIES)
                + f" | {m['auc_heldout']:.3f} | {m['fpr_at_50pct_seen_tpr']:.3f} | "
                f"{m['tpr_seen_at_5pct_fpr']:.3f} | "
                f"{m['tpr_heldout_at_5pct_fpr']:.3f} | {ms:.1f} |"
            )
    return "\n".join(lines) + "\n"


def curves_summary(results: list[dict]) -> str:
    lines = []
    for r in results:
        c = r["curve"]
        pts = [c[int(i)] for i in np.linspace(0, len(c) - 1, 6)]
        lines.append(f"- {r['model']}: " + ", ".join(f"{p['s']:.0f} s {p['loss']:.3f}" for p in pts))
    return "\n".join(lines) + "\n"


def breakdown(results: list[dict]) -> str:
    """Per test package, per JPEG-quality third and per detail third: AUC of seen fakes vs reals."""
    import csv

    with open(DATA / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    te = np.load(DATA / "crops-test.npz")
    fam = te["family"].astype(int)
    families = [str(f) for f in te["families"]]
    seen = np.isin(fam, [families.index(f) for f in ("esrgan-av3-x2", "cugan-up2x", "ae-tiny")])
    real = fam == 0
    pkg = np.array([r["package"] for r in rows])
    q = np.array([int(r["quality"]) for r in rows])
    lap = np.array([lap_energy(x) for x in te["x"]])
    groups = {f"package {p}": pkg == p for p in sorted(set(pkg))}
    groups.update({"quality 70-78": q <= 78, "quality 79-86": (q > 78) & (q <= 86), "quality 87-95": q > 86})
    t1, t2 = np.quantile(lap[real], [1 / 3, 2 / 3])
    groups.update(
        {
            "detail low third": lap < t1,
            "detail mid third": (lap >= t1) & (lap < t2),
            "detail high third": lap >= t2,
        }
    )
    head = "| group (test crops) | n real / seen fake | " + " | ".join(r["model"] for r in results) + " |"
    lines = [
        "AUC of seen fakes vs reals within groups (2x2-tile scores):",
        "",
        head,
        "|" + "---|" * (len(results) + 2),
    ]
    for g, m in groups.items():
        nr, nf = int((m & real).sum()), int((m & seen).sum())
        if nr < 5 or nf < 5:
            continue
        cells = []
        for r in results:
            s = np.load(EXP / "runs" / r["model"] / "test_scores_tiles.npy")
            cells.append(f"{auc(s[m & real], s[m & seen]):.3f}")
        lines.append(f"| {g} | {nr} / {nf} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def figures(results: list[dict]) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("no matplotlib: figures skipped")
        return
    FIG.mkdir(exist_ok=True)
    fig, ax = plt.subplots(figsize=(7, 4))
    for r in results:
        c = r["curve"]
        s = np.array([p["s"] for p in c])
        loss = np.array([p["loss"] for p in c])
        k = 8
        sm = np.convolve(loss, np.ones(k) / k, mode="valid")
        ax.plot(s[k - 1 :], sm, label=r["model"])
    ax.axhline(np.log(2), color="grey", ls=":", lw=1)
    ax.set_xlabel("training seconds (1 thread)")
    ax.set_ylabel("BCE loss (moving mean of 200 steps)")
    ax.set_ylim(0, 0.8)
    ax.legend()
    fig.tight_layout()
    fig.savefig(FIG / "loss.png", dpi=90)

    te = np.load(DATA / "crops-test.npz")
    fam = te["family"].astype(int)
    families = [str(f) for f in te["families"]]
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.2))
    for ax, title, sel in (
        (axes[0], "seen families", ["esrgan-av3-x2", "cugan-up2x", "ae-tiny"]),
        (axes[1], "held-out upscalers", list(HELDOUT_FAMILIES)),
    ):
        for r in results:
            s = np.load(EXP / "runs" / r["model"] / "test_scores_tiles.npy")
            real = np.sort(s[fam == 0])
            pos = s[np.isin(fam, [families.index(f) for f in sel])]
            thr = np.unique(np.concatenate([real, pos]))[::-1]
            fpr = [(real >= t).mean() for t in thr]
            tpr = [(pos >= t).mean() for t in thr]
            ax.plot([0, *fpr], [0, *tpr], label=r["model"])
        ax.plot([0, 1], [0, 1], color="grey", ls=":", lw=1)
        ax.set_title(f"test photos, {title} (2x2 tiles)")
        ax.set_xlabel("false-positive rate (real test crops)")
        ax.set_ylabel("true-positive rate")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(FIG / "roc.png", dpi=90)
    say("figures in", FIG)


def main() -> None:
    results = load()
    text = (
        table(results)
        + "\nLoss curves (seconds, loss over 25 steps):\n"
        + curves_summary(results)
        + "\n"
        + breakdown(results)
    )
    (EXP / "table.md").write_text(text)
    say(text)
    figures(results)


if __name__ == "__main__":
    main()
