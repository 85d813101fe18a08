#!/usr/bin/env bash
# FakeScope-mini on the CPU, second full run: from a stage-1 tower to a calibrated, measured export.
#   bash train/run/mini/cpu-stage2.sh DATA TOWER     (from the repository root, .venv installed)
# DATA: prep's folder (manifest.csv, split.json, ae-tiny.safetensors), e.g. build/exp/data5
# TOWER: vision-train's vision.safetensors, e.g. runs/mini-cpu/stage1b-soft/vision.safetensors
# ALSO_TRAIN=PKG (optional): the held-out package PKG's training photographs are trained on (its
#   test photographs stay out, `train.run.mini.train_only`), and it leaves the own-size set, which
#   keeps the other held-out packages. The tower must have been trained the same way.
# CHECKPOINT_EVAL=0 (optional): the test images through the GGUF alone, not also the PyTorch
#   checkpoint (which takes about 20 minutes here); for comparing runs before one is shipped.
# SFT=CONFIG NEXT=FOLDER (optional): another SFT config (default train/run/mini/sft-cpu.toml) and
#   where its export and figures go (default runs/mini-cpu/next); the SFT's output folder is the
#   config's. A config with [data] teacher gets that file from TOWER first
#   (`train.run.mini.tower_targets`: the distillation targets, train/model/distill.py).
# Every step skips itself when its output exists, so a run cut off by the end of a session is
# started again with the same command (the SFT resumes from its last checkpoint); the folders
# record the DATA and TOWER they were made from, and a different pair is refused. Writes
# runs/mini-cpu/next/ (the export and every figure), never the shipped models/fakescope-mini/.
set -euo pipefail
DATA=${1:?prep folder}
TOWER=${2:?vision.safetensors}
PY=.venv/bin/python
RUN=runs/mini-cpu
NEXT=${NEXT:-$RUN/next}
OUT=$NEXT/model
SFT=${SFT:-train/run/mini/sft-cpu.toml}
toml_path() {  # a path key of the SFT config, resolved against the config's folder ("" if absent)
  $PY -c 'import sys, tomllib, pathlib; c = pathlib.Path(sys.argv[1]); v = tomllib.loads(c.read_text())[sys.argv[2]].get(sys.argv[3]); print(pathlib.Path(c.parent, v).resolve().relative_to(pathlib.Path.cwd()) if v else "")' "$SFT" "$@"
}
SFT_DIR=$(toml_path train output_dir)
TEACHER=$(toml_path data teacher)
SEEN=esrgan-av3-x2,cugan-up2x,ae-tiny
HELD_OUT=lomiri-wallpapers-16.04  # held out of training; with the two below, the own-size set
OWN_PACKAGES=("$HELD_OUT" opencv-doc visp-images-data)
ALSO_TRAIN=${ALSO_TRAIN:-}
CHECKPOINT_EVAL=${CHECKPOINT_EVAL:-1}
mkdir -p "$NEXT"
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
INPUTS="data=$DATA tower=$TOWER"
if [ "$SFT" != train/run/mini/sft-cpu.toml ]; then INPUTS="$INPUTS sft=$SFT"; fi
if [ -n "$ALSO_TRAIN" ]; then INPUTS="$INPUTS also_train=$ALSO_TRAIN"; fi
if [ -f "$NEXT/inputs.txt" ] && [ "$(cat "$NEXT/inputs.txt")" != "$INPUTS" ]; then
  echo "cpu-stage2: $RUN was made from $(cat "$NEXT/inputs.txt"); move it aside to start from $INPUTS" >&2
  exit 2
fi
echo "$INPUTS" > "$NEXT/inputs.txt"

# 0. the crops the SFT sees, and the own-size set (the held-out packages' photographs)
CROPS="$DATA/manifest.csv"
EXCLUDE=(--exclude-package "$HELD_OUT")
OWN=own-size
if [ -n "$ALSO_TRAIN" ]; then
  [ "$ALSO_TRAIN" = "$HELD_OUT" ] || { echo "cpu-stage2: ALSO_TRAIN must be $HELD_OUT" >&2; exit 2; }
  CROPS="$DATA/manifest-train-only.csv"
  EXCLUDE=()
  OWN=own-size-unseen
  $PY -m train.run.mini.train_only "$DATA/manifest.csv" --package "$ALSO_TRAIN" --out "$CROPS"
fi

# 1. the tower into the starting checkpoint
if [ ! -f "$RUN/stage1-checkpoint/model.safetensors" ]; then
  stamp "vision-apply"
  $PY -m train vision-apply --checkpoint "$RUN/init" --vision "$TOWER" --out "$RUN/stage1-checkpoint"
fi

# 2. whole evaluation images (test, validation for the calibration, own-size, camera originals)
if [ ! -f "$RUN/eval-images/camera/manifest.csv" ]; then
  stamp "mini-eval-images"
  $PY -m train mini-eval-images --cache build/photo-cache --split "$DATA/split.json" \
    --autoencoder "$DATA/ae-tiny.safetensors" --out "$RUN/eval-images" \
    $(printf -- '--held-out-package %s ' "${OWN_PACKAGES[@]}") --more-cache build/photo-cache-more \
    --camera-cache build/photo-cache-camera
fi
if [ ! -f "$RUN/eval-images/val/manifest.csv" ]; then
  stamp "mini-eval-images --val-only"
  $PY -m train mini-eval-images --cache build/photo-cache --split "$DATA/split.json" \
    --autoencoder "$DATA/ae-tiny.safetensors" --out "$RUN/eval-images" \
    --held-out-package "$HELD_OUT" --val-only
fi

if [ -n "$ALSO_TRAIN" ] && [ ! -f "$RUN/eval-images/$OWN/manifest.csv" ]; then
  stamp "own-size photographs without $ALSO_TRAIN"
  $PY - "$RUN/eval-images/$OWN" "$ALSO_TRAIN" "${OWN_PACKAGES[@]}" <<'EOF'
import sys
from pathlib import Path
from train.run.mini.eval_images import cached_packages, copy_own_size
caches = [Path("build/photo-cache"), Path("build/photo-cache-more")]
packages = set(sys.argv[3:]) - {sys.argv[2]}
held = set().union(*(cached_packages(c) for c in caches))
assert packages <= held, packages - held
print(copy_own_size(caches, frozenset(packages), Path(sys.argv[1])), "photographs")
EOF
fi

# 3. SFT data and the LoRA run (train/run/mini/sft-cpu.toml)
if [ ! -f "$RUN/sft-data/fakeinstruct.json" ]; then
  stamp "mini-sft-data"
  $PY -m train mini-sft-data --crops "$CROPS" --out "$RUN/sft-data" \
    --profile train/run/mini/profile.toml "${EXCLUDE[@]}"
fi
if [ -n "$TEACHER" ] && [ ! -f "$TEACHER" ]; then
  stamp "tower_targets"
  $PY -m train.run.mini.tower_targets "$RUN/sft-data/fakeinstruct.json" --checkpoint "$RUN/init" \
    --vision "$TOWER" --out "$TEACHER"
fi
if [ ! -f "$SFT_DIR/merged/model.safetensors" ]; then
  stamp "sft ($SFT)"
  $PY -m train sft --config "$SFT"
fi

# 4. an export without the calibration, the Platt fit on validation images, the calibrated export
grep -v -E '^(logit_scale|logit_offset)' train/run/mini/profile.toml > "$NEXT/profile-uncalibrated.toml"
if [ ! -f "$NEXT/calibration.json" ]; then
  stamp "export (uncalibrated) and calibrate"
  $PY -m conversion export "$SFT_DIR/merged" --out "$NEXT/uncalibrated" --name fakescope-mini --quant iq4_nl \
    --mmproj-quant f32 --profile "$NEXT/profile-uncalibrated.toml" --card train/run/mini/card.toml
  $PY -m train.run.mini.calibrate --images "$RUN/eval-images/val/manifest.csv" \
    --gguf "$NEXT/uncalibrated/fakescope-mini.gguf" --seen "$SEEN" --out "$NEXT/calibration.json"
fi
$PY - "$NEXT" <<'EOF'
import json, sys, pathlib
next_dir = pathlib.Path(sys.argv[1])
fit = json.loads((next_dir / "calibration.json").read_text())
text = (next_dir / "profile-uncalibrated.toml").read_text()
text += f"logit_scale = {fit['logit_scale']:.4f}\nlogit_offset = {fit['logit_offset']:.4f}\n"
(next_dir / "profile.toml").write_text(text)
EOF
if [ ! -f "$OUT/fakescope-mini.manifest.json" ]; then
  stamp "export (calibrated)"
  $PY -m conversion export "$SFT_DIR/merged" --out "$OUT" --name fakescope-mini --quant iq4_nl \
    --mmproj-quant f32 --profile "$NEXT/profile.toml" --card train/run/mini/card.toml
fi

# 5. the card's figures: test images (checkpoint and GGUF), own-size photographs, camera originals
if [ ! -f "$NEXT/eval-test.json" ]; then
  stamp "eval test"
  BOTH=(--checkpoint "$SFT_DIR/merged")
  if [ "$CHECKPOINT_EVAL" = 0 ]; then BOTH=(); fi
  $PY -m train eval $RUN/eval-images/test/manifest.csv "${BOTH[@]}" \
    --gguf "$OUT/fakescope-mini.gguf" --profile "$NEXT/profile.toml" --train-generators "$SEEN" \
    --explain 20 --out "$NEXT/eval-test.json" | tee "$NEXT/eval-test.txt"
fi
for set in $OWN camera; do
  if [ ! -f "$NEXT/eval-$set.json" ]; then
    stamp "eval $set"
    $PY -m train eval "$RUN/eval-images/$set/manifest.csv" --gguf "$OUT/fakescope-mini.gguf" \
      --out "$NEXT/eval-$set.json" | tee "$NEXT/eval-$set.txt"
  fi
done
stamp "done"
