"""How each label spelling moves a checkpoint's judgment: the crop-level AUC of the pooled score
(log-sum-exp over every surface form's summed sub-token logits, as the engine scores) beside the
AUC of each single spelling's score alone, on a seeded sample of a crop manifest's test crops.

    python -m train.run.mini.variant_check runs/mini-cpu/sft-distill/merged \\
        --crops build/exp/data4/manifest.csv --profile train/run/mini/profile.toml --n 160

A spelling of several sub-tokens sums several raw logits, so its score is on another scale than a
one-token spelling's, and the pooled score follows whichever spelling is largest, not the answer
the model was trained to give.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from fakescope_cli.imageio import decode_image, read_image_file
from fakescope_cli.scoring import label_score, variant_score


def spelling_scores(labels: Mapping[str, Sequence[Sequence[float]]]) -> dict[str, float]:
    """'pooled': the engine's fake-minus-real score; 'form i': fake form i minus real form i."""
    fake, real = labels["fake"], labels["real"]
    out = {"pooled": label_score(fake) - label_score(real)}
    for i, (f, r) in enumerate(zip(fake, real, strict=False)):
        out[f"form {i}"] = variant_score(f) - variant_score(r)
    return out


def main(argv: list[str] | None = None) -> int:
    from fakescope_cli.profile import load_profile_toml
    from train.model.hf_model import TokenScorer, load_model
    from train.run.metrics import roc_auc

    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--crops", type=Path, required=True, help="prep's manifest.csv (its test crops)")
    parser.add_argument("--profile", type=Path, required=True)
    parser.add_argument("--n", type=int, default=160, help="crops, half real, half generated")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    rows = [r for r in csv.DictReader(args.crops.open()) if r["split"] == "test"]
    rng = random.Random(args.seed)
    picked = [
        row
        for label in ("0", "1")
        for row in rng.sample([r for r in rows if r["label"] == label], args.n // 2)
    ]
    processor, model = load_model(args.checkpoint)
    scorer = TokenScorer(processor, model.eval(), load_profile_toml(args.profile))
    tokenizer = processor.tokenizer
    forms = [
        tokenizer.decode(list(f)) + " / " + tokenizer.decode(list(r))
        for f, r in zip(scorer.variants["fake"], scorer.variants["real"], strict=False)
    ]
    scores: dict[str, list[float]] = {}
    for row in picked:
        path = args.crops.parent / row["path"]
        image = decode_image(path, read_image_file(path)).rgb  # decoded as the CLI decodes
        for name, value in spelling_scores(scorer.label_logits(image)).items():
            scores.setdefault(name, []).append(value)
    labels = [int(r["label"]) for r in picked]
    named = {f"form {i}": text for i, text in enumerate(forms)}
    aucs = {name: roc_auc(labels, values) for name, values in scores.items()}
    means = {name: sum(values) / len(values) for name, values in scores.items()}
    for name, auc in aucs.items():
        label = named.get(name, "all spellings pooled")
        shown = "-" if auc is None else f"{auc:.3f}"
        sys.stdout.write(f"{name:8} {label!r:28} AUC {shown}  mean score {means[name]:+.2f}\n")
    result = {
        "checkpoint": str(args.checkpoint),
        "crops": len(picked),
        "forms": named,
        "auc": aucs,
        "mean": means,
    }
    if args.out:
        args.out.write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
