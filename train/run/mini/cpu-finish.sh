#!/usr/bin/env bash
# FakeScope-mini on the CPU, after the SFT stage: export the shipped pair and measure it.
# Every figure in the model card comes from the files this writes under runs/mini-cpu/.
#   bash train/run/mini/cpu-finish.sh            (from the repository root, .venv installed)
# The calibration in profile.toml (logit_scale, logit_offset) was fitted on an export made without
# those two lines: python -m train mini-eval-images ... --val-only, then
# python -m train.run.mini.calibrate (train/run/mini/calibration.json), then this script again.
set -euo pipefail
PY=.venv/bin/python
RUN=runs/mini-cpu
OUT=models/fakescope-mini
SEEN=esrgan-av3-x2,cugan-up2x,ae-tiny

# 1. export: text iq4_nl, projector f32 (chosen in train/run/mini/quant-choice.json), the crops
#    profile and the card written into the GGUF
$PY -m conversion export $RUN/sft/merged --out $OUT --name fakescope-mini --quant iq4_nl \
    --mmproj-quant f32 --profile train/run/mini/profile.toml --card train/run/mini/card.toml

# 2. whole test images (5 crops each, as `fakescope scan` judges them), checkpoint and GGUF side
#    by side, 20 explanations checked against the evidence engine
$PY -m train eval $RUN/eval-images/test/manifest.csv --checkpoint $RUN/sft/merged \
    --gguf $OUT/fakescope-mini.gguf --profile train/run/mini/profile.toml --train-generators $SEEN \
    --explain 20 --out $RUN/eval-test.json | tee $RUN/eval-test.txt

# 3. real photographs of packages never used in training, at their own size and format
$PY -m train eval $RUN/eval-images/own-size/manifest.csv --gguf $OUT/fakescope-mini.gguf \
    --out $RUN/eval-own-size.json | tee $RUN/eval-own-size.txt
