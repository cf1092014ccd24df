#!/usr/bin/env bash
# The CUDA path on a lent GPU, in under 5 minutes: correctness first, then speed, then the node.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]          (default out/gpu_check)
#
# 1. CUDA against the CPU (pytest, the tests that skip without a GPU): optimized network <= 1e-3, CUDA
#    graph replay = eager, the estimator with the GPU crop + pinned upload + CUDA graph (fp32 and fp16).
# 2. hfl-bench on CUDA: plain vs fold / fp32 / bf16 / fp16 / CUDA-graph paths, p50 / p95 at batch 1,
#    throughput at batch 8 and 32, output differences; table + JSON (OUT_DIR/bench.json).
# 2b. Two hands (benchmarks/two_hands.py): batch 2 vs 2 x batch 1 on CUDA, network alone and the whole
#    estimate_sides, plain and default paths (CUDA graph per batch size); table + JSON (OUT_DIR/two_hands.json).
# 3. The node end to end on a synthetic camera at 30 and 60 Hz (benchmarks/ros_latency.py), when the ROS
#    environment exists (.venv/ros_env.sh from scripts/setup_ros.sh).
# Every step's output goes to OUT_DIR/<step>.log as well as the terminal; the exit status is the first
# failing step's.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/gpu_check}
mkdir -p "$OUT"
PYTHON=${PYTHON:-.venv/bin/python}
status=0

step() {  # step NAME TIMEOUT_S COMMAND...: run with a time limit, log, remember the first failure
  local name=$1 limit=$2
  shift 2
  echo "=== $name (limit ${limit} s)"
  timeout "$limit" "$@" 2>&1 | tee "$OUT/$name.log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: exit $rc"
  if [ "$rc" -ne 0 ] && [ "$status" -eq 0 ]; then status=$rc; fi
}

"$PYTHON" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda); \
sys.exit(0 if torch.cuda.is_available() else 'CUDA is not available: nothing to check')" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

step cuda_tests 90 "$PYTHON" -m pytest -q -rs test/model/test_optimize.py test/inference/test_estimator.py -k cuda
step bench 100 "$PYTHON" -m hfl_ros.apps.bench --device cuda --batches 1 8 32 --repeats 20 --warmup 3 \
  --json "$OUT/bench.json"
step two_hands 60 "$PYTHON" benchmarks/two_hands.py --device cuda --repeats 20 --warmup 3 --paths plain default \
  --json "$OUT/two_hands.json"
if [ -f .venv/ros_env.sh ]; then
  for rate in 30 60; do
    # shellcheck disable=SC1091
    step "node_${rate}hz" 45 bash -c "source .venv/ros_env.sh && $PYTHON benchmarks/ros_latency.py --device cuda \
      --modes pipeline --rate $rate --warmup 3 --duration 12 --out $OUT/node_${rate}hz"
  done
else
  echo "=== node: skipped (.venv/ros_env.sh missing: run scripts/setup_ros.sh first)"
fi
echo "gpu_check: exit $status; logs in $OUT"
exit "$status"
