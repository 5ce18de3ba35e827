#!/usr/bin/env bash
# The course's GPU checks on a machine that has a CUDA build of JAX but no TensorFlow.
#
#   benchmarks/jax_gpu_session.sh OUT_DIR [WHEELS_DIR]
#
# Run from the repository root.  WHEELS_DIR (optional) holds wheels the machine lacks, installed
# into a private folder first: Keras 3 and what it needs besides JAX (namex, optree), fetched
# beforehand with `pip download --no-deps --only-binary=:all: keras namex optree` for the machine's
# Python.  Every step has its own time limit, so one that fails or hangs does not cost the others;
# together they stay under 10 minutes (on an H200, XLA compiles each network in 5-25 s, which is most
# of the time).
#
# What it leaves in OUT_DIR:
#   session.log         the GPU, the versions, the checks' JSON, bench_jax.py's tables (networks, and
#                       PConv2D / Conv2D layer by layer), masks/s
#   checks.tar.part-*   tests/jax_backend_checks.py's arrays, float32 convolutions at full precision
#                       (JAX_DEFAULT_MATMUL_PRECISION=highest), split into 15 MB parts
# Back on a machine with TensorFlow, compare them with the references and with TensorFlow:
#   cat OUT_DIR/checks.tar.part-* | tar -xf - -C SOMEWHERE
#   COURSE_JAX_CHECKS_DIR=SOMEWHERE/checks_highest pytest tests/test_jax_backend.py
# The same checks at JAX's default precision (on NVIDIA GPUs since Ampere XLA may then use TF32 for
# float32 convolutions) take another two minutes and are left out to stay under 10 minutes; run them
# by hand with `KERAS_BACKEND=jax python3 tests/jax_backend_checks.py DIR` (benchmarks/README.md has
# what they gave on an H200).
set -u
out=${1:?usage: benchmarks/jax_gpu_session.sh OUT_DIR [WHEELS_DIR]}
wheels=${2:-}
mkdir -p "$out"
log="$out/session.log"
export KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3 PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
if [ -n "$wheels" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/course-gpu-site "$wheels"/*.whl || exit 1
    export PYTHONPATH="/tmp/course-gpu-site:$PYTHONPATH"
fi
work=$(mktemp -d)

step() {  # step SECONDS TITLE COMMAND...: run COMMAND with a time limit, its output into the log
    local limit=$1 title=$2
    shift 2
    echo "=== $title ($(date -u +%H:%M:%S), limit ${limit} s)" >>"$log"
    local start=$SECONDS
    timeout "$limit" "$@" >>"$log" 2>&1
    echo "=== $title: exit $?, $((SECONDS - start)) s" >>"$log"
}

step 30 "machine" bash -c 'nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv;
    python3 --version; python3 -c "import jax, keras; print(\"jax\", jax.__version__, \"keras\", keras.__version__, jax.devices())"'
step 150 "checks, highest precision" env JAX_DEFAULT_MATMUL_PRECISION=highest \
    python3 tests/jax_backend_checks.py "$work/checks_highest"
step 110 "bench_jax.py, batch 32" python3 benchmarks/bench_jax.py --batch-size 32 --rounds 7
step 150 "bench_jax.py, batch 256" python3 benchmarks/bench_jax.py --batch-size 256 --rounds 5 \
    --networks pconv vanilla --policies float32 mixed_float16 mixed_bfloat16
step 30 "mixed masks per second in worker processes (NumPy and OpenCV only)" python3 - <<'EOF'
import os
import time
from concurrent.futures import ProcessPoolExecutor

from course_lib import masks


def draw(seed):  # one chunk of the pipeline's size (pipeline.MASK_CHUNK)
    return len(masks.make_masks("mixed", 1024, size=32, seed=seed))


print(f"{os.cpu_count()} cores")
for workers in (1, 4, 8, 14):
    with ProcessPoolExecutor(workers) as pool:
        list(pool.map(draw, range(workers)))  # starts the workers
        start = time.perf_counter()
        drawn = sum(pool.map(draw, range(100, 100 + 4 * workers)))
        print(f"{workers:>2} workers: {drawn / (time.perf_counter() - start):>9,.0f} masks/s")
EOF
step 110 "bench_jax.py --layers, batch 32" python3 benchmarks/bench_jax.py --layers --rounds 9 --loop 16

tar -cf - -C "$work" checks_highest | split -b 15m - "$out/checks.tar.part-"
rm -rf "$work"
