#!/usr/bin/env bash
# The GPU half of the FakeScope-mini run, on the device machine (train/README.md, "The FakeScope-mini
# run"). Files written outside the working tree stay there between back-to-back calls, so large
# inputs arrive over several calls and are kept in $STASH.
#   bash train/run/mini/device.sh receive        keep this call's .carry/parts-*/ in the stash
#   bash train/run/mini/device.sh run STAGE      install, join, run mini-run up to STAGE (resumable)
#   bash train/run/mini/device.sh pack           what the CPU side needs, as parts, into $OUT
set -euo pipefail
STASH=/root/fakescope-mini
SITE=$STASH/site
export PYTHONPATH="$SITE:$PWD" PYTHONUNBUFFERED=1
mkdir -p "$STASH/parts"

case "${1:-}" in
receive)
    for folder in .carry/parts-*/; do cp "$folder"* "$STASH/parts/"; done
    ls -la "$STASH/parts"
    ;;
run)
    if [ ! -d "$SITE" ]; then  # installed into a side folder, renamed only once complete
        rm -rf "$SITE.partial"
        python3 -m train.run.mini.stage join "$STASH/parts" --out "$STASH/joined"
        python3 -m pip install -q --no-index --no-deps --no-compile --target "$SITE.partial" \
            .carry/wheels/*.whl "$STASH"/joined/*.whl
        mv "$SITE.partial" "$SITE"
    fi
    nvidia-smi --query-gpu=name,memory.used,memory.total --format=csv,noheader
    timeout 560 python3 -m train mini-run --plan train/run/mini/plan.toml --work "$STASH/work" --to "${2:?usage: device.sh run STAGE}" \
        || { rc=$?; [ $rc -eq 124 ] && echo "cut off at the call's limit: run the same command again"; exit $rc; }
    ;;
pack)
    python3 -m train mini-pack --work "$STASH/work" --out "$OUT" --part-mb 15
    ;;
*)
    echo "usage: device.sh receive | run STAGE | pack" >&2
    exit 2
    ;;
esac
