"""Train one candidate for a fixed wall-clock budget on one thread, then evaluate it.

    OMP_NUM_THREADS=1 .venv/bin/python -m train.experiments.decision.run --model mnv5-tiny --seconds 540

Writes build/exp/runs/<model>/{weights.safetensors,result.json}.  Every candidate sees the same
data (build/exp/data/crops-*.npz), the same seed, random 64 px native tiles of the 128 px train
crops (random offset, random horizontal flip), balanced batches (half real, half fake).  A test
crop's score is the mean logit over its 2x2 tiles; fully convolutional towers also get a
whole-crop score (what gemma3nv at image_size 128 would see).
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
import torch.nn.functional as F
from scipy.stats import rankdata

from train.experiments.decision.common import (
    DATA,
    EXP,
    HELDOUT_FAMILIES,
    TILE,
    TRAIN_FAMILIES,
    one_thread,
    say,
)
from train.experiments.decision.models import IdeficsViT, build, count_flops

LR = {"vit-dct-p8": 1e-3, "vit-dct-p4": 1e-3, "vit-rand-p8": 1e-3, "mnv5-tiny": 2e-3, "cnn-ref": 2e-3}


def auc(neg: np.ndarray, pos: np.ndarray) -> float:
    r = rankdata(np.concatenate([neg, pos]))
    return float((r[len(neg) :].sum() - len(pos) * (len(pos) + 1) / 2) / (len(neg) * len(pos)))


def to_input(x_uint8: torch.Tensor) -> torch.Tensor:
    return (x_uint8.float() / 255.0 - 0.5) / 0.5


def tiles(x: torch.Tensor) -> torch.Tensor:
    """(B, 3, 128, 128) -> (B*4, 3, 64, 64), row-major tiles."""
    b = x.shape[0]
    t = x.unfold(2, TILE, TILE).unfold(3, TILE, TILE)  # B,3,2,2,64,64
    return t.permute(0, 2, 3, 1, 4, 5).reshape(b * 4, 3, TILE, TILE)


@torch.no_grad()
def score(model: torch.nn.Module, x: np.ndarray, whole: bool, bs: int = 32) -> np.ndarray:
    model.eval()
    out = []
    for i in range(0, len(x), bs):
        xb = to_input(torch.from_numpy(x[i : i + bs]).permute(0, 3, 1, 2))
        if whole:
            out.append(model(xb).numpy())
        else:
            out.append(model(tiles(xb)).view(-1, 4).mean(1).numpy())
    return np.concatenate(out)


def metrics(s: np.ndarray, fam: np.ndarray, families: list[str]) -> dict:
    real = s[fam == 0]
    res: dict = {"per_family_auc": {}}
    for i, f in enumerate(families):
        if i == 0 or not (fam == i).any():
            continue
        res["per_family_auc"][f] = round(auc(real, s[fam == i]), 4)
    seen = np.isin(fam, [families.index(f) for f in TRAIN_FAMILIES])
    held = np.isin(fam, [families.index(f) for f in HELDOUT_FAMILIES])
    seen_up = np.isin(fam, [families.index(f) for f in TRAIN_FAMILIES if f != "ae-tiny"])
    res["auc_seen"] = round(auc(real, s[seen]), 4)
    res["auc_seen_upscalers"] = round(auc(real, s[seen_up]), 4)
    res["auc_heldout"] = round(auc(real, s[held]), 4)
    thr50 = float(np.median(s[seen]))
    res["fpr_at_50pct_seen_tpr"] = round(float((real >= thr50).mean()), 4)
    thr5 = float(np.quantile(real, 0.95))
    res["tpr_seen_at_5pct_fpr"] = round(float((s[seen] > thr5).mean()), 4)
    res["tpr_heldout_at_5pct_fpr"] = round(float((s[held] > thr5).mean()), 4)
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--seconds", type=float, default=540)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--lr", type=float)
    ap.add_argument(
        "--train-families", help="comma list: train only on these fake families (a harness check)"
    )
    ap.add_argument("--tag", default="", help="suffix of the run folder")
    ap.add_argument(
        "--test-limit", type=int, default=0, help="smoke test: evaluate only every n-th test crop"
    )
    ap.add_argument(
        "--freeze-frac", type=float, default=0.2, help="DCT ViT: patch embedding frozen for this share"
    )
    args = ap.parse_args()
    one_thread()
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    out = EXP / "runs" / (args.model + args.tag)
    out.mkdir(parents=True, exist_ok=True)

    tr, te = np.load(DATA / "crops-train.npz"), dict(np.load(DATA / "crops-test.npz"))
    if args.test_limit:
        te = {k: (v[:: args.test_limit] if k != "families" else v) for k, v in te.items()}
    families = [str(f) for f in tr["families"]]
    xtr = torch.from_numpy(tr["x"]).permute(0, 3, 1, 2).contiguous()  # uint8 N,3,128,128
    ytr = tr["label"].astype(np.int64)
    real_idx, fake_idx = np.flatnonzero(ytr == 0), np.flatnonzero(ytr == 1)
    if args.train_families:
        keep = [families.index(f) for f in args.train_families.split(",")]
        fake_idx = np.flatnonzero((ytr == 1) & np.isin(tr["family"], keep))

    model = build(args.model)
    n_params = sum(p.numel() for p in model.parameters())
    flops_tile = count_flops(model, TILE)
    conv = not isinstance(model, IdeficsViT)
    flops_crop_whole = count_flops(model, 128) if conv else None

    def batch() -> tuple[torch.Tensor, torch.Tensor]:
        h = args.batch // 2
        idx = np.concatenate([rng.choice(real_idx, h), rng.choice(fake_idx, h)])
        oy, ox = rng.integers(0, 128 - TILE + 1, len(idx)), rng.integers(0, 128 - TILE + 1, len(idx))
        xb = torch.stack([xtr[i, :, y : y + TILE, x : x + TILE] for i, y, x in zip(idx, oy, ox, strict=True)])
        flip = torch.from_numpy(rng.random(len(idx)) < 0.5)
        xb[flip] = xb[flip].flip(3)
        return to_input(xb), torch.from_numpy(ytr[idx]).float()

    frozen = False
    if isinstance(model, IdeficsViT) and model.dct:
        model.whiten(torch.cat([batch()[0] for _ in range(8)]))
        if args.freeze_frac > 0:
            model.set_embed_trainable(False)
            frozen = True
    lr_max = args.lr or LR[args.model]
    decay = [p for n, p in model.named_parameters() if p.ndim >= 2 and "pos" not in n]
    no_decay = [p for n, p in model.named_parameters() if not (p.ndim >= 2 and "pos" not in n)]
    opt = torch.optim.AdamW(
        [{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
        lr=lr_max,
        betas=(0.9, 0.999),
    )
    model.train()
    curve, losses, t0, step, seen = [], [], time.time(), 0, 0
    while True:
        frac = (time.time() - t0) / args.seconds
        if frac >= 1:
            break
        if frozen and frac >= args.freeze_frac and isinstance(model, IdeficsViT):
            model.set_embed_trainable(True)
            frozen = False
        lr = lr_max * min(1.0, frac / 0.05) * 0.5 * (1 + math.cos(math.pi * frac))
        for g in opt.param_groups:
            g["lr"] = lr
        xb, yb = batch()
        loss = F.binary_cross_entropy_with_logits(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        losses.append(loss.item())
        step += 1
        seen += len(yb)
        if step % 25 == 0:
            curve.append(
                {
                    "step": step,
                    "s": round(time.time() - t0, 1),
                    "loss": round(float(np.mean(losses[-25:])), 4),
                }
            )
            if step % 200 == 0:
                say(curve[-1])
    train_s = time.time() - t0

    from safetensors.torch import save_file

    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, str(out / "weights.safetensors"))

    t1 = time.time()
    fam_te = te["family"].astype(np.int64)
    res = {
        "model": args.model + args.tag,
        "train_families": args.train_families or "all",
        "params": n_params,
        "flops_per_tile_64": flops_tile,
        "flops_per_crop_128_tiles": 4 * flops_tile,
        "flops_per_crop_128_whole": flops_crop_whole,
        "lr_max": lr_max,
        "batch": args.batch,
        "steps": step,
        "samples_seen": seen,
        "train_seconds": round(train_s, 1),
        "seed": args.seed,
        "loss_first100": round(float(np.mean(losses[:100])), 4),
        "loss_last100": round(float(np.mean(losses[-100:])), 4),
        "curve": curve,
    }
    s_tiles = score(model, te["x"], whole=False)
    res["test_tiles"] = metrics(s_tiles, fam_te, families)
    if conv:
        s_whole = score(model, te["x"], whole=True)
        res["test_whole"] = metrics(s_whole, fam_te, families)
    # fit: AUC on a fixed 800-crop subsample of the training crops
    sub = np.random.default_rng(1).choice(len(ytr), min(800, len(ytr)), replace=False)
    s_tr = score(model, tr["x"][sub], whole=False)
    res["train_auc_subsample"] = round(auc(s_tr[ytr[sub] == 0], s_tr[ytr[sub] == 1]), 4)
    res["eval_seconds"] = round(time.time() - t1, 1)
    # inference time per 128 px crop in torch, one thread
    x1 = to_input(torch.from_numpy(te["x"][:1]).permute(0, 3, 1, 2))
    with torch.no_grad():
        for _ in range(3):
            model(tiles(x1))
        t2 = time.time()
        for _ in range(20):
            model(tiles(x1))
        res["ms_per_crop_tiles_b1"] = round((time.time() - t2) / 20 * 1000, 2)
        if conv:
            t2 = time.time()
            for _ in range(20):
                model(x1)
            res["ms_per_crop_whole_b1"] = round((time.time() - t2) / 20 * 1000, 2)
    np.save(out / "test_scores_tiles.npy", s_tiles)
    (out / "result.json").write_text(json.dumps(res, indent=1))
    say(json.dumps({k: v for k, v in res.items() if k != "curve"}, indent=1))


if __name__ == "__main__":
    main()
