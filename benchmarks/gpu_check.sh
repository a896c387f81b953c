#!/usr/bin/env bash
# The GPU check of the fused CUDA ops, as one script: environment, build (timed), the CUDA tests of
# tests/test_cuda_ops.py, the benchmark (benchmarks/bench_cuda_ops.py) and 'sg2eval ops status'.
# Logs go to $OUT (default ./out): env.log build.log tests.log junit.xml bench.log.
#
#   bash benchmarks/gpu_check.sh [bench options, e.g. --no-step]
#
# Uses the python3 on PATH (or $PYTHON) with the repository on PYTHONPATH: nothing is installed.
set -u
cd "$(dirname "$0")/.."
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
export SG2EVAL_CACHE="${SG2EVAL_CACHE:-/tmp/sg2eval-cache}" MAX_JOBS="${MAX_JOBS:-16}"
SG2EVAL=("$PY" -c "from sg2eval.cli.main import cli; cli()")

{
  date -u
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
  "$PY" -c "import sys, torch; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', torch.version.cuda)"
  nvcc --version | tail -1
} 2>&1 | tee "$OUT/env.log"

SECONDS=0
"${SG2EVAL[@]}" ops build 2>&1 | tee "$OUT/build.log"
build_rc=${PIPESTATUS[0]}
echo "build rc=$build_rc in ${SECONDS}s" | tee -a "$OUT/build.log"

SECONDS=0
timeout "${TEST_TIMEOUT:-300}" "$PY" -m pytest tests/test_cuda_ops.py -q -p no:cacheprovider -rfE \
  --junitxml="$OUT/junit.xml" 2>&1 | tee "$OUT/tests.log"
tests_rc=${PIPESTATUS[0]}
echo "tests rc=$tests_rc in ${SECONDS}s" | tee -a "$OUT/tests.log"

SECONDS=0
timeout "${BENCH_TIMEOUT:-300}" "$PY" benchmarks/bench_cuda_ops.py --cudnn-benchmark "$@" 2>&1 | tee "$OUT/bench.log"
bench_rc=${PIPESTATUS[0]}
echo "bench rc=$bench_rc in ${SECONDS}s" | tee -a "$OUT/bench.log"
"${SG2EVAL[@]}" ops status 2>&1 | tee -a "$OUT/bench.log"

echo "summary: build=$build_rc tests=$tests_rc bench=$bench_rc"
[ "$build_rc" = 0 ] && [ "$tests_rc" = 0 ] && [ "$bench_rc" = 0 ]
