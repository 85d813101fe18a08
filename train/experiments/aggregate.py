"""Which crop aggregate separates better, ``mean-logit`` or ``max``? Measured with the vision
stage's classifier on its validation photos (never trained on).

An "image" here is ``k`` crops of one photograph and one class (its real crops, or the crops one
generator family made of it), drawn without replacement, as a scan judges ``k`` crops of one file.
Each image's score is the mean of its crop logits, or the highest; the AUC over all such images
(every family against the reals) says which rule ranks images better. A proxy until the tuned
model exists: the crops of one "image" come from different places of the photo, not one file.

    python -m train.experiments.aggregate --checkpoint runs/mini-cpu/init \\
        --stage runs/mini-cpu/vision --data build/exp/data4/manifest.csv --crops 5
"""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file

from train.model.vision.crops import load_crops
from train.model.vision.stage import (
    VISION,
    VISION_PREFIX,
    Normaliser,
    TileClassifier,
    _vision_tower,
    crop_logits,
    tiles_of,
)
from train.run.metrics import detection_metrics


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--checkpoint", type=Path, required=True)
    parser.add_argument("--stage", type=Path, required=True)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--crops", type=int, default=5)
    parser.add_argument("--draws", type=int, default=20, help="images drawn per photo and class")
    args = parser.parse_args()
    torch.set_num_threads(2)
    record = json.loads((args.stage / "record.json").read_text())
    config = record["config"]
    data = load_crops(
        args.data, frozenset(config["exclude_packages"]), config["val_fraction"], config["seed"]
    )
    val = data["val"]
    vision, hidden, tile, norm = _vision_tower(args.checkpoint)
    model = TileClassifier(vision, hidden)
    weights = load_file(str(args.stage / VISION))
    model.vision.load_state_dict(
        {k[len(VISION_PREFIX) :]: v for k, v in weights.items() if k.startswith(VISION_PREFIX)}
    )
    model.head.load_state_dict({k[5:]: v for k, v in weights.items() if k.startswith("head.")})
    logits = crop_logits(model, tiles_of(val.pixels, tile), Normaliser(*norm))
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, (photo, family) in enumerate(zip(val.photos, val.families, strict=True)):
        groups[(photo, family)].append(i)
    rng = np.random.default_rng(0)
    labels, mean_scores, max_scores = [], [], []
    for (_, family), members in sorted(groups.items()):
        if len(members) < args.crops:
            continue
        for _ in range(args.draws):
            chosen = logits[rng.choice(members, args.crops, replace=False)]
            labels.append(0 if family == "real" else 1)
            mean_scores.append(float(1 / (1 + np.exp(-chosen.mean()))))
            max_scores.append(float(1 / (1 + np.exp(-chosen.max()))))
    single = detection_metrics(val.labels.tolist(), (1 / (1 + np.exp(-logits))).tolist())
    result = {
        "val_crops": len(val),
        "val_photos": len(set(val.photos)),
        "images": len(labels),
        "crops_per_image": args.crops,
        "roc_auc_single_crop": single.roc_auc,
        "roc_auc_mean_logit": detection_metrics(labels, mean_scores).roc_auc,
        "roc_auc_max": detection_metrics(labels, max_scores).roc_auc,
        "ece_mean_logit": detection_metrics(labels, mean_scores).ece,
        "ece_max": detection_metrics(labels, max_scores).ece,
    }
    print(json.dumps(result, indent=1))  # noqa: T201


if __name__ == "__main__":
    main()
