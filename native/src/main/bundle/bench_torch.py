#!/usr/bin/env python3
"""The PyTorch half of the one-shot GPU comparison (gpu-check.sh; GpuBench.java measures the same cases in Fluxion).

Prints one tab-separated line per case, "case value unit", and writes them to OUT.tsv when given:
  copy / add / mul-by-scalar / gelu(tanh) / dropout GB/s over 1 GiB float32 tensors (bytes read + written),
  torch.matmul 8192^3 TFLOP/s in bfloat16, float16 and float32 (TF32 off, torch's default),
  F.conv2d 3x3 forward + backward TFLOP/s (N=64, 64 -> 128 channels, 56x56, padding 1; cuDNN, heuristics as
  torch.backends.cudnn.benchmark=False, TF32 off) in bfloat16 and float32,
  causal F.scaled_dot_product_attention forward + backward TFLOP/s, bfloat16, (8, 12, 1024, 64) (flash),
  a GPT-2-small (124M) training step, eager PyTorch (bf16 autocast, AdamW, SDPA attention), tokens/s,
  the CharGpt model (vocab 256, context 64, 3 layers, 4 heads, width 128, batch 16) for --chargpt-steps steps
  with loss.item() every step as CharGpt does, tokens/s.
The models mirror dev.fluxion.nn.Gpt: token + position embeddings, pre-LayerNorm blocks (qkv and proj Linear with
bias, MLP 4x with tanh-GELU), final LayerNorm, untied head without bias.

Usage: bench_torch.py [OUT.tsv] [--quick] [--chargpt-steps N]
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.ln1, self.ln2 = nn.LayerNorm(width), nn.LayerNorm(width)
        self.qkv, self.proj = nn.Linear(width, 3 * width), nn.Linear(width, width)
        self.fc, self.out = nn.Linear(width, 4 * width), nn.Linear(4 * width, width)

    def forward(self, x):
        b, t, c = x.shape
        q, k, v = self.qkv(self.ln1(x)).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if hasattr(F, "scaled_dot_product_attention"):
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:                                   # torch < 2.0: the same attention written out
            a = (q @ k.transpose(-2, -1)) / math.sqrt(q.shape[-1])
            a = a.masked_fill(torch.ones(t, t, dtype=torch.bool, device=x.device).triu(1), float("-inf"))
            y = a.softmax(-1) @ v
        y = y.transpose(1, 2).reshape(b, t, c)
        x = x + self.proj(y)
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class Gpt(nn.Module):
    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.tokens, self.positions = nn.Embedding(vocab, width), nn.Embedding(context, width)
        self.blocks = nn.ModuleList(Block(width, heads) for _ in range(layers))
        self.ln_f, self.head = nn.LayerNorm(width), nn.Linear(width, vocab, bias=False)

    def forward(self, idx):
        x = self.tokens(idx) + self.positions(torch.arange(idx.shape[1], device=idx.device))
        for blk in self.blocks:
            x = blk(x)
        return self.head(self.ln_f(x))


def seconds(fn, reps=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / 1e3 / reps


def train_tokens_per_s(config, batch, steps, item_every_step, max_seconds=20.0):
    vocab, context = config[0], config[1]
    model = Gpt(*config).cuda()
    opt = torch.optim.AdamW(model.parameters(), lr=3e-4)
    x = torch.randint(0, vocab, (batch, context), device="cuda")
    y = torch.randint(0, vocab, (batch, context), device="cuda")

    def step():
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x).float().view(-1, vocab), y.view(-1))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item() if item_every_step else loss

    for _ in range(2):
        step()
    torch.cuda.synchronize()
    t0, done = time.perf_counter(), 0
    while done < steps and time.perf_counter() - t0 < max_seconds:
        step()
        done += 1
    torch.cuda.synchronize()
    return done * batch * context / (time.perf_counter() - t0)


def main():
    args = sys.argv[1:]
    out = args[0] if args and not args[0].startswith("--") else None
    quick = "--quick" in args
    chargpt_steps = int(args[args.index("--chargpt-steps") + 1]) if "--chargpt-steps" in args else 300
    torch.backends.cuda.matmul.allow_tf32 = False
    # each row reaches the file as it is measured: a run cut short by its time limit keeps the rows it has
    sink = open(out, "w") if out else None

    def put(name, value, unit):
        line = f"{name}\t{value:.3f}\t{unit}"
        print(line, flush=True)
        if sink:
            sink.write(line + "\n")
            sink.flush()

    n = 1 << 28
    a = torch.rand(n, device="cuda")
    b = a * 0.5
    put("copy_fp32_GBs", 2 * n * 4 / seconds(lambda: a.clone()) / 1e9, "GB/s")
    put("add_fp32_GBs", 3 * n * 4 / seconds(lambda: a + b) / 1e9, "GB/s")
    put("mul_scalar_fp32_GBs", 2 * n * 4 / seconds(lambda: a * 3.0) / 1e9, "GB/s")
    put("gelu_fp32_GBs", 2 * n * 4 / seconds(lambda: F.gelu(a, approximate="tanh")) / 1e9, "GB/s")
    # training-mode dropout on CUDA is native_dropout: x read, y and a 1-byte bool mask written (9 bytes an element)
    put("dropout_fp32_GBs", 9 * n / seconds(lambda: F.dropout(a, 0.1, training=True)) / 1e9, "GB/s")
    del a, b
    for dt, name in ((torch.bfloat16, "bf16"), (torch.float16, "fp16"), (torch.float32, "fp32")):
        m = 8192
        x, y = torch.randn(m, m, device="cuda", dtype=dt), torch.randn(m, m, device="cuda", dtype=dt)
        put(f"matmul8192_{name}_TFLOPs", 2 * m ** 3 / seconds(lambda: torch.matmul(x, y)) / 1e12, "TFLOP/s")
        del x, y
    # the goal row before the extras, as GpuBench orders it
    put("gpt2_small_bf16_step_tokens_per_s", train_tokens_per_s((50257, 1024, 12, 12, 768), 2 if quick else 8, 10, False), "tokens/s")
    torch.backends.cudnn.allow_tf32 = False      # torch's default is True; Fluxion's conv follows its matmul switch (off)
    for dt, name in ((torch.bfloat16, "bf16"), (torch.float32, "fp32")):
        x = torch.randn(64, 64, 56, 56, device="cuda", dtype=dt, requires_grad=True)
        w = (torch.randn(128, 64, 3, 3, device="cuda", dtype=dt) * 0.05).requires_grad_()
        gy = torch.randn(64, 128, 56, 56, device="cuda", dtype=dt)

        def conv_step():
            x.grad, w.grad = None, None
            F.conv2d(x, w, padding=1).backward(gy)

        put(f"conv3x3_fwdbwd_{name}_TFLOPs", 3 * 2 * 64 * 128 * 56 * 56 * 64 * 9 / seconds(conv_step) / 1e12, "TFLOP/s")
        del x, w, gy
    # causal attention forward + backward, bf16, (8, 12, 1024, 64): SDPA (flash); FLOPs as GpuBench's (4 B H T^2 D
    # forward, 2.5x that backward, halved for causal)
    q, k, v, gy = (torch.randn(8, 12, 1024, 64, device="cuda", dtype=torch.bfloat16) for _ in range(4))
    for x in (q, k, v):
        x.requires_grad_()

    def attention_step():
        q.grad, k.grad, v.grad = None, None, None
        F.scaled_dot_product_attention(q, k, v, is_causal=True).backward(gy)

    put("attention_causal_fwdbwd_bf16_TFLOPs", 3.5 * 4 * 8 * 12 * 1024 * 1024 * 64 / 2 / seconds(attention_step) / 1e12, "TFLOP/s")
    del q, k, v, gy
    put("chargpt_tokens_per_s", train_tokens_per_s((256, 64, 3, 4, 128), 16, chargpt_steps, True, max_seconds=60.0), "tokens/s")
    if sink:
        sink.close()


if __name__ == "__main__":
    main()
