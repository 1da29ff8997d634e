#!/usr/bin/env python3
"""Merges GpuBench's and bench_torch.py's tab-separated results into one table with the issue's goals.

Usage: bench_compare.py FLUXION.tsv TORCH.tsv   (either may be missing or partial: its cells read '-')
"""
import sys


def read(path):
    rows = {}
    try:
        with open(path) as f:
            for line in f:
                parts = line.rstrip("\n").split("\t")
                if len(parts) == 3:
                    rows[parts[0]] = (float(parts[1]), parts[2])
    except OSError:
        pass
    return rows


GOALS = {  # case -> (what is compared, minimum ratio)
    "matmul8192_bf16_TFLOPs": ("vs torch.matmul", 0.95),
    "matmul8192_fp16_TFLOPs": ("vs torch.matmul", 0.95),
    "matmul8192_fp32_TFLOPs": ("vs torch.matmul", 0.95),
    "gpt2_small_bf16_step_tokens_per_s": ("vs PyTorch eager", 1.0),
    "add_fp32_GBs": ("vs Fluxion's own D2D copy", 0.80),
    "mul_scalar_fp32_GBs": ("vs Fluxion's own D2D copy", 0.80),
    "gelu_fp32_GBs": ("vs Fluxion's own D2D copy", 0.80),
    "dropout_fp32_GBs": ("vs PyTorch", 0.90),          # both native_dropout-shaped: 9 bytes an element, Philox in the kernel
}


def main():
    fx, th = read(sys.argv[1]), read(sys.argv[2])
    copy = fx.get("copy_fp32_GBs", (None,))[0]
    print(f"{'case':38} {'Fluxion':>12} {'PyTorch':>12} {'unit':9} {'ratio':>7}  goal")
    for case in sorted(set(fx) | set(th), key=lambda c: (c.split('_')[0], c)):
        f, t = fx.get(case, (None, ""))[0], th.get(case, (None, ""))[0]
        unit = (fx.get(case) or th.get(case))[1]
        what, need = GOALS.get(case, ("vs PyTorch", None))
        base = copy if what.startswith("vs Fluxion's own") else t
        ratio = f / base if f is not None and base else None
        verdict = "" if need is None or ratio is None else (" met" if ratio >= need else " NOT met")
        goal = f"{what}{f' >= {need:.2f}' if need else ''}{verdict}"
        cell = lambda v: f"{v:12.1f}" if v is not None else f"{'-':>12}"
        print(f"{case:38} {cell(f)} {cell(t)} {unit:9} {'-' if ratio is None else f'{ratio:.3f}':>7}  {goal}")


if __name__ == "__main__":
    main()
