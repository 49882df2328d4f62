#!/usr/bin/env bash
# On a GPU machine: install a farm-built wheel into a private target and run
# the environment report, the pytest suite and (optionally) the benchmark.
#
#   bash bindings/gpu-check.sh WHEEL LABEL [quick|full|none] [pytest args...]
#
# Logs go to $OUT/<LABEL>-*.txt (or ./gpu-check-out/). Prints a short summary.
set -uo pipefail
wheel=$1 label=$2 bench=${3:-quick}
shift $(( $# < 3 ? $# : 3 ))
out=${OUT:-$PWD/gpu-check-out}
mkdir -p "$out"
repo=$(cd "$(dirname "$0")/.." && pwd)
site=$(mktemp -d "/tmp/attnfarm-$label-XXXX")
export PYTHONUNBUFFERED=1
python3 -m pip install --quiet --no-deps --no-index --no-compile --target "$site" "$wheel" || { echo "$label: pip install failed"; exit 1; }
export PYTHONPATH=$site${PYTHONPATH:+:$PYTHONPATH}
echo "== $label: $(basename "$wheel")"
(cd / && python3 -c 'import attnfarm, attnfarm._build_info as b; print("import ok", b.VARIANT, b.SASS_ARCHES, attnfarm.__file__)') 2>&1 | tail -3
(cd / && timeout 120 python3 -m attnfarm) > "$out/$label-report.txt" 2>&1
echo "report rc=$?"; tail -n 12 "$out/$label-report.txt"
(cd "$repo/bindings/tests" && timeout "${PYTEST_TIMEOUT:-400}" python3 -m pytest -q -rfEs -p no:cacheprovider --tb=short "$@") > "$out/$label-pytest.txt" 2>&1
echo "pytest rc=$?"; grep -E "^(FAILED|ERROR)|[0-9]+ (passed|failed|skipped)" "$out/$label-pytest.txt" | cut -c1-300 | tail -n 25
case $bench in
  quick) args=(--quick) ;;
  full) args=() ;;
  *) exit 0 ;;
esac
timeout "${BENCH_TIMEOUT:-420}" python3 "$repo/bindings/bench/bench.py" "${args[@]}" --json "$out/$label-bench.json" > "$out/$label-bench.txt" 2>&1
echo "bench rc=$?"; cut -c1-200 "$out/$label-bench.txt" | tail -n 70
