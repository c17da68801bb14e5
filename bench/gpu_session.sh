#!/usr/bin/env bash
# One prepared script for a lent GPU machine (H100/H200); the image there has torch, numpy,
# pandas, scipy, seaborn, tqdm and pytest, so the library runs from the checkout as is.
#
# Before the call, here: copy the data it should use into ./data (ignored by git), e.g.
#   mkdir -p data && cp ../shared/data/mnist.npz ../shared/data/fashion_mnist.npz data/
# (42 MB; cifar10.npz is 171 MB and must travel in parts over several calls).
# The call: run(command="bash bench/gpu_session.sh 480", carry=["data"], timeout_s=560)
# Afterwards, here: tar xzf <files_at>/gpu.tar.gz   (new records land in results/)
#
# Within BUDGET seconds: the GPU tests, `pepita bench` and `pepita cost` on CUDA (seed stacks
# up to 10, MNIST and CIFAR-10 shapes), then the largest missing paper grids, seeds stacked
# (the default on a GPU) and two stacks at a time. A grid cut short by the budget keeps every
# finished stack: records are written atomically, one per run.
set -u
BUDGET=${1:-480}
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PEPITA_DATA_DIR=${PEPITA_DATA_DIR:-$PWD/data} PYTHONUNBUFFERED=1
START=$(date +%s)
left() { echo $((BUDGET - ($(date +%s) - START))); }
P="python3 -m pepita_lib.cli"
nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$OUT/device.txt"
python3 -m pytest -q -p no:cacheprovider tests/test_gpu.py tests/test_seed_batch.py 2>&1 |
    tee "$OUT/tests.log" | tail -3
$P bench --device cuda --json --steps 300 --out results/cost/bench-cuda.json
$P cost --device cuda --dataset mnist cifar10 --store
# The grids still missing runs on the CPU-made store (pepita status --profile paper
# --by-dataset), grey-scale first; a grid whose data did not travel is skipped at once
# ("no data"), and finished runs are never recomputed.
for grid in "wm_tuning" "hebbian_depth" "going_deeper --filter dataset=mnist" \
    "weight_mirroring --filter dataset=cifar10" "going_deeper --filter dataset=cifar10"; do
    t=$(left)
    [ "$t" -gt 90 ] || break
    # shellcheck disable=SC2086
    timeout $((t - 45)) $P run $grid --profile paper --device cuda --jobs 2 --quiet || true
done
tar czf "$OUT/gpu.tar.gz" results
echo "done in $(($(date +%s) - START)) s"
