#!/usr/bin/env python3
"""Reference outputs and gradients of every nn layer and loss, computed by PyTorch.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 nn/src/test/python/make_layer_reference.py

Writes nn/src/test/resources/reference/layers.safetensors. For each case NAME it holds
  NAME.param.<p>   the layer's parameters, named as Fluxion's stateDict names them
  NAME.input       the input (float32, or int64 ids)
  NAME.r           a fixed random tensor; the loss is sum(output * r)
  NAME.output      the layer's output
  NAME.grad.input  d loss / d input (float inputs only)
  NAME.grad.<p>    d loss / d parameter
Debian has no safetensors package, so this script writes the format itself (spec: 8-byte little-endian
header length, JSON header {name: {dtype, shape, data_offsets}}, raw little-endian data).
"""
import json
import math
import os
import struct

import torch
import torch.nn as nn
import torch.nn.functional as F

torch.manual_seed(7)
OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "layers.safetensors")
DTYPES = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64"}


def write_safetensors(path, tensors):
    header, blobs, offset = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        data = t.numpy().tobytes()
        header[name] = {"dtype": DTYPES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"producer": "make_layer_reference.py", "torch": torch.__version__}
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for b in blobs:
            f.write(b)


class RMSNorm(nn.Module):          # torch 1.13 has no nn.RMSNorm
    def __init__(self, dim, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight


class CausalSelfAttention(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)

    def forward(self, x):
        B, T, C = x.shape
        D = C // self.heads
        q, k, v = self.qkv(x).split(C, dim=2)
        q, k, v = (z.reshape(B, T, self.heads, D).transpose(1, 2) for z in (q, k, v))
        att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
        att = att.masked_fill(torch.ones(T, T).triu(1) != 0, float("-inf")).softmax(-1)
        return self.proj((att @ v).transpose(1, 2).reshape(B, T, C))


class Block(nn.Module):
    def __init__(self, width, heads):
        super().__init__()
        self.ln1 = nn.LayerNorm(width)
        self.attn = CausalSelfAttention(width, heads)
        self.ln2 = nn.LayerNorm(width)
        self.mlp = nn.Sequential(nn.Linear(width, 4 * width), nn.GELU(approximate="tanh"), nn.Linear(4 * width, width), nn.Dropout(0.0))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.mlp(self.ln2(x))


class Gpt(nn.Module):
    def __init__(self, vocab, context, layers, heads, width):
        super().__init__()
        self.tokens = nn.Embedding(vocab, width)
        self.positions = nn.Embedding(context, width)
        self.blocks = nn.ModuleList([Block(width, heads) for _ in range(layers)])
        self.lnF = nn.LayerNorm(width)
        self.head = nn.Linear(width, vocab, bias=False)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions(torch.arange(ids.shape[1]))
        for b in self.blocks:
            x = b(x)
        return self.head(self.lnF(x))


def perturb(module):
    """Non-trivial values for parameters that start at constants (LayerNorm 1/0), so their gradients matter."""
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.1 * torch.randn_like(p))


def case(out, name, module, x):
    perturb(module)
    x = x.clone()
    if x.is_floating_point():
        x.requires_grad_()
    y = module(x)
    r = torch.randn_like(y)
    (y * r).sum().backward()
    out[name + ".input"] = x
    out[name + ".r"] = r
    out[name + ".output"] = y
    if x.is_floating_point():
        out[name + ".grad.input"] = x.grad
    for pname, p in module.named_parameters():
        out[name + ".param." + pname] = p
        out[name + ".grad." + pname] = p.grad


def loss_case(out, name, fn, logits, target):
    logits = logits.clone().requires_grad_()
    loss = fn(logits, target)
    loss.backward()
    out[name + ".input"] = logits
    out[name + ".target"] = target
    out[name + ".output"] = loss.reshape(1)
    out[name + ".grad.input"] = logits.grad


def main():
    out = {}
    case(out, "linear", nn.Linear(5, 3), torch.randn(4, 5))
    case(out, "linear_nobias_3d", nn.Linear(5, 3, bias=False), torch.randn(2, 4, 5))
    case(out, "embedding", nn.Embedding(7, 4), torch.tensor([[1, 0, 6], [3, 3, 2]]))
    case(out, "layernorm", nn.LayerNorm(6), torch.randn(3, 6))
    case(out, "rmsnorm", RMSNorm(6, 1e-6), torch.randn(3, 6))
    for act, mod in [("relu", nn.ReLU()), ("gelu", nn.GELU()), ("gelu_tanh", nn.GELU(approximate="tanh")),
                     ("silu", nn.SiLU()), ("tanh", nn.Tanh()), ("sigmoid", nn.Sigmoid())]:
        case(out, act, mod, torch.randn(3, 5) * 2)
    case(out, "sequential", nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2)), torch.randn(5, 4))
    case(out, "conv2d", nn.Conv2d(2, 3, 3, stride=1, padding=1), torch.randn(2, 2, 5, 5))
    case(out, "conv2d_stride2", nn.Conv2d(3, 4, 3, stride=2, padding=0), torch.randn(1, 3, 7, 7))
    case(out, "maxpool2d", nn.MaxPool2d(2, 2), torch.randn(2, 3, 6, 6))
    case(out, "avgpool2d", nn.AvgPool2d(3, 2), torch.randn(1, 2, 7, 7))
    case(out, "flatten", nn.Flatten(), torch.randn(2, 3, 2, 2))
    case(out, "attention", CausalSelfAttention(8, 2), torch.randn(2, 5, 8))
    case(out, "block", Block(8, 2), torch.randn(2, 5, 8))
    case(out, "gpt", Gpt(11, 6, 2, 2, 8), torch.randint(0, 11, (2, 6)))
    logits, target = torch.randn(6, 5), torch.tensor([0, 4, 2, -100, 1, 3])
    loss_case(out, "cross_entropy", lambda x, t: F.cross_entropy(x, t), logits, target)
    loss_case(out, "cross_entropy_smooth", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1), logits, target)
    loss_case(out, "nll", lambda x, t: F.nll_loss(x.log_softmax(-1), t), logits, target)
    loss_case(out, "mse", lambda x, t: F.mse_loss(x, t), torch.randn(4, 3), torch.randn(4, 3))
    loss_case(out, "bce_with_logits", lambda x, t: F.binary_cross_entropy_with_logits(x, t), torch.randn(4, 3) * 3,
              torch.randint(0, 2, (4, 3)).float())
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, out)
    print("wrote", os.path.normpath(OUT), len(out), "tensors")


if __name__ == "__main__":
    main()
