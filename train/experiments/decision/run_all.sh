#!/bin/sh
# The whole decision experiment, one thread each, in sequence (see README.md).
set -e
export OMP_NUM_THREADS=1
PY=${PY:-.venv/bin/python}
SECONDS_EACH=${SECONDS_EACH:-420}
[ -f build/exp/data/crops-test.npz ] || $PY -m train.experiments.decision.prep --seed 0 --min-detail 3.0
[ -f build/exp/data/shortcut.json ] || $PY -m train.experiments.decision.shortcut
for m in ${MODELS:-cnn-ref mnv5-tiny vit-dct-p8 vit-rand-p8}; do
  [ -f build/exp/runs/$m/result.json ] || $PY -m train.experiments.decision.run --model $m --seconds $SECONDS_EACH
done
${REPORT_PY:-$PY} -m train.experiments.decision.report   # figures need matplotlib
