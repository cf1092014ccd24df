#!/usr/bin/env bash
# The CUDA path on a lent GPU, in about 5 minutes: correctness first, then speed, then the node.
#
#   bash benchmarks/gpu_check.sh [OUT_DIR]            (default out/gpu_check)
#   bash benchmarks/gpu_check.sh --fetch-wheels       (here, with PyPI: the wheels the GPU machine lacks -> .whl/)
#
# Runs on the machine's own python (PYTHON, else .venv/bin/python where it exists, else python3): the
# repository is put on PYTHONPATH (no install needed), and Python packages that python lacks (WHEELS below)
# are installed from the git-ignored .whl/ folder into a temporary site directory (carry .whl to the GPU
# machine; --fetch-wheels fills it on a machine with PyPI).
# 1. CUDA against the CPU (pytest, the tests that skip without a GPU): IEEE fp32 equals the CPU within 1e-4,
#    CUDA graph replay = eager (on cuda:1 too with two GPUs), the estimator with the GPU crop + pinned
#    upload + CUDA graph (fp32 and fp16), ONNX Runtime refused on CUDA when it has no CUDA provider.
# 2. hfl-bench on CUDA: plain vs fold / fp32 (IEEE) / tf32 / bf16 / fp16 / CUDA-graph paths, p50 / p95 at
#    batch 1, throughput at batch 8 and 32, output differences, the GPU's conv / GEMM limits and each
#    path's share; table + JSON (OUT_DIR/bench.json).
# 3. The node end to end on a synthetic camera at 30 and 60 Hz (benchmarks/ros_latency.py), when the ROS
#    environment exists (.venv/ros_env.sh from scripts/setup_ros.sh).
# Every step's output goes to OUT_DIR/<step>.log as well as the terminal; the exit status is the first
# failing step's.
set -uo pipefail
cd "$(dirname "$0")/.."
# Packages hfl_ros imports that a plain PyTorch image may lack (pure-Python wheels).
WHEELS="trimesh"

if [ "${1:-}" = "--fetch-wheels" ]; then
  python3 -m pip download --no-deps --only-binary=:all: -d .whl $WHEELS
  exit $?
fi
OUT=${1:-out/gpu_check}
mkdir -p "$OUT"
if [ -z "${PYTHON:-}" ]; then
  if [ -x .venv/bin/python ]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
missing=$(for module in $WHEELS; do "$PYTHON" -c "import $module" 2>/dev/null || echo "$module"; done)
if [ -n "$missing" ]; then
  if ! ls .whl/*.whl >/dev/null 2>&1; then
    echo "gpu_check: $PYTHON lacks: $missing; run 'bash benchmarks/gpu_check.sh --fetch-wheels' where PyPI is" \
      "reachable and bring .whl/ along" >&2
    exit 1
  fi
  SITE=$(mktemp -d)
  "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --target "$SITE" .whl/*.whl || exit 1
  export PYTHONPATH="$PYTHONPATH:$SITE"
fi
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

"$PYTHON" -c "import torch, sys; print('python', sys.version.split()[0], 'torch', torch.__version__, 'cuda', \
torch.version.cuda); sys.exit(0 if torch.cuda.is_available() else 'CUDA is not available: nothing to check')" || exit 1
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader | tee "$OUT/gpu.txt"

step cuda_tests 120 "$PYTHON" -m pytest -q -rs -p no:cacheprovider test/model/test_optimize.py \
  test/model/test_export.py test/inference/test_estimator.py -k "cuda"
step bench 150 "$PYTHON" -m hfl_ros.apps.bench --device cuda --batches 1 8 32 --repeats 20 --warmup 3 \
  --json "$OUT/bench.json"
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
