#!/usr/bin/env python3
"""PyTorch's side of the side-by-side benchmark: the same workloads as Fluxion's JMH benchmarks.

Run by dev.fluxion.bench.SideBySide (see bench/README.md), or by hand:
    LD_LIBRARY_PATH=/usr/lib/x86_64-linux-gnu/openblas-openmp /usr/bin/python3 bench/python/torch_workloads.py --quick
Prints one JSON object per line: {"workload", "value", "unit", "device", "blas"}. Each workload is timed as
the median of several timed repetitions after warm-up, the same statistic the Java side reports.
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def blas_name():
    cfg = torch.__config__.show()
    path = os.environ.get("LD_LIBRARY_PATH", "")
    if "openblas" in path:
        return "OpenBLAS (Debian libopenblas0-openmp via LD_LIBRARY_PATH)"
    for line in cfg.splitlines():
        if "BLAS_INFO" in line:
            return line.strip()
    return "unknown BLAS"


def median_seconds(fn, warmup, reps):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def emit(workload, value, unit):
    print(json.dumps({"workload": workload, "value": value, "unit": unit, "device": DEVICE, "blas": BLAS}), flush=True)


def gemm(sizes, reps):
    for n in sizes:
        a, b = torch.randn(n, n), torch.randn(n, n)
        t = median_seconds(lambda: torch.matmul(a, b), 2, reps if n < 2048 else max(3, reps // 3))
        emit(f"gemm_fp32_{n}", 2.0 * n ** 3 / t / 1e9, "GFLOP/s")


def elementwise(n, reps):
    a, b = torch.randn(n), torch.randn(n)
    t = median_seconds(lambda: a + b, 3, reps)
    emit("add_16M", 3 * 4 * n / t / 1e9, "GB/s")
    x = torch.randn(4096, 1024)
    t = median_seconds(lambda: torch.softmax(x, -1), 3, reps)
    emit("softmax_4096x1024", 2 * 4 * x.numel() / t / 1e9, "GB/s")


def layernorm(reps):
    x, w, b, g = torch.randn(4096, 1024), torch.randn(1024), torch.randn(1024), torch.randn(4096, 1024)
    t = median_seconds(lambda: F.layer_norm(x, (1024,), w, b, 1e-5), 3, reps)
    emit("layernorm_4096x1024", 2 * 4 * x.numel() / t / 1e9, "GB/s")
    for p in (x, w, b):
        p.requires_grad_(True)

    def fwd_bwd():
        x.grad = w.grad = b.grad = None          # as the Java side: no gradient accumulated across calls
        F.layer_norm(x, (1024,), w, b, 1e-5).backward(g)
    emit("layernorm_fwd_bwd_4096x1024", median_seconds(fwd_bwd, 3, reps) * 1e3, "ms")


def train_step_ms(model, opt, batch_fn, loss_fn, reps):
    x, y = batch_fn()

    def step():
        opt.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
        opt.step()
    return median_seconds(step, 3, reps) * 1e3


def mlp(reps):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Linear(784, 1024), nn.ReLU(), nn.Linear(1024, 1024), nn.ReLU(), nn.Linear(1024, 10))
    opt = torch.optim.SGD(m.parameters(), lr=0.01)
    emit("mlp_train_step", train_step_ms(m, opt, lambda: (torch.randn(256, 784), torch.randint(0, 10, (256,))), F.cross_entropy, reps), "ms")


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Linear(4 * width, width))

    def forward(self, x):
        B, T, C = x.shape
        D = C // self.heads
        q, k, v = self.qkv(self.ln1(x)).split(C, dim=2)
        q, k, v = (z.reshape(B, T, self.heads, D).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        att = att.masked_fill(torch.ones(T, T).triu(1) != 0, float("-inf")).softmax(-1)
        x = x + self.proj((att @ v).transpose(1, 2).reshape(B, T, C))
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    """The same architecture as dev.fluxion.nn.Gpt (eager attention, as Fluxion computes it)."""

    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.lnF, self.head = nn.LayerNorm(width), nn.Linear(width, vocab, bias=False)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.head(self.lnF(x))


def gpt(reps):
    torch.manual_seed(0)
    m = Gpt(256, 128, 4, 4, 256)
    opt = torch.optim.AdamW(m.parameters(), lr=3e-4)
    batch = lambda: (torch.randint(0, 256, (16, 128)), torch.randint(0, 256, (16, 128)))
    loss = lambda logits, y: F.cross_entropy(logits.reshape(-1, 256), y.reshape(-1))
    emit("gpt_small_train_step", train_step_ms(m, opt, batch, loss, reps), "ms")


def cnn(reps):
    torch.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(1, 8, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Conv2d(8, 16, 3, 1, 1), nn.ReLU(), nn.MaxPool2d(2, 2),
                      nn.Flatten(), nn.Linear(16 * 4 * 4, 4))
    opt = torch.optim.Adam(m.parameters(), lr=3e-3)
    emit("cnn_train_step", train_step_ms(m, opt, lambda: (torch.randn(32, 1, 16, 16), torch.randint(0, 4, (32,))), F.cross_entropy, reps), "ms")


def adam(reps):
    p = [torch.randn(1_000_000, requires_grad=True) for _ in range(10)]      # 10M parameters in 10 tensors
    for t in p:
        t.grad = torch.randn_like(t)
    opt = torch.optim.Adam(p, lr=1e-3, foreach=False)
    emit("adam_step_10M", median_seconds(opt.step, 3, reps) * 1e3, "ms")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    ap.add_argument("--only", default="", help="comma-separated workload groups: gemm,elementwise,layernorm,mlp,gpt,cnn,adam")
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    DEVICE = f"cpu ({args.threads} threads)"
    BLAS = blas_name()
    reps = 5 if args.quick else 15
    groups = {"gemm": lambda: gemm([256, 512, 1024, 2048], reps), "elementwise": lambda: elementwise(16 << 20, reps),
              "layernorm": lambda: layernorm(reps),
              "mlp": lambda: mlp(reps), "gpt": lambda: gpt(reps), "cnn": lambda: cnn(reps), "adam": lambda: adam(reps)}
    wanted = [g for g in (args.only.split(",") if args.only else groups) if g]
    for g in wanted:
        if g not in groups:
            sys.exit(f"unknown workload group {g}; known: {', '.join(groups)}")
        groups[g]()
