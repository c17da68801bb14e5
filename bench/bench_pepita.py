"""Benchmark: one epoch of PEPITA 1x1024 on the MNIST and CIFAR-10 shapes.

Usage: python bench/bench_pepita.py [--device cuda] [--steps 300]
Prints the JSON of ``pepita bench --json`` (seconds per epoch, GFLOP/s, the fraction of a
large float32 matmul's rate measured in the same process, and the speedup over a plain
two-pass PyTorch loop). Run it on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json

from pepita_lib.bench import run_bench

if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--device", default="cpu")
    p.add_argument("--steps", type=int, default=300)
    args = p.parse_args()
    print(json.dumps(run_bench(device=args.device, steps=args.steps), indent=1))
