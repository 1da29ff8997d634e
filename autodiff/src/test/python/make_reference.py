#!/usr/bin/env python3
"""Reference gradients for fluxion-autodiff, computed by PyTorch.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 autodiff/src/test/python/make_reference.py

Writes autodiff/src/test/resources/reference/gradients.json: for each model, its float32 inputs and
parameters (so Java loads exactly the same values), the loss, and the gradient of every parameter.
"""
import json
import math
import os

import torch

torch.manual_seed(1234)
OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "gradients.json")


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def mlp():
    x = torch.randn(8, 16)
    y = torch.randint(0, 4, (8,))
    p = {
        "w1": (torch.randn(16, 32) * 0.3).requires_grad_(),
        "b1": (torch.randn(32) * 0.1).requires_grad_(),
        "w2": (torch.randn(32, 4) * 0.3).requires_grad_(),
        "b2": (torch.randn(4) * 0.1).requires_grad_(),
    }
    h = torch.nn.functional.gelu(x @ p["w1"] + p["b1"])
    logits = h @ p["w2"] + p["b2"]
    loss = -torch.log_softmax(logits, dim=-1).gather(1, y.unsqueeze(1)).mean()
    loss.backward()
    return {
        "inputs": {"x": t(x), "y": {"shape": [8], "data": [int(v) for v in y.tolist()]}},
        "params": {k: t(v) for k, v in p.items()},
        "loss": float(loss),
        "grads": {k: t(v.grad) for k, v in p.items()},
    }


def attention():
    B, T, C, H = 2, 5, 8, 2
    D = C // H
    x = torch.randn(B, T, C)
    r = torch.randn(B, T, C)
    p = {
        "ln_w": (1 + 0.1 * torch.randn(C)).requires_grad_(),
        "ln_b": (0.1 * torch.randn(C)).requires_grad_(),
        "wq": (torch.randn(C, C) * 0.3).requires_grad_(),
        "wk": (torch.randn(C, C) * 0.3).requires_grad_(),
        "wv": (torch.randn(C, C) * 0.3).requires_grad_(),
        "wo": (torch.randn(C, C) * 0.3).requires_grad_(),
    }
    xr = x.clone().requires_grad_()
    mu = xr.mean(-1, keepdim=True)
    var = ((xr - mu) ** 2).mean(-1, keepdim=True)
    h = (xr - mu) / torch.sqrt(var + 1e-5) * p["ln_w"] + p["ln_b"]

    def heads(z):
        return z.reshape(B, T, H, D).transpose(1, 2)  # (B, H, T, D)

    q, k, v = heads(h @ p["wq"]), heads(h @ p["wk"]), heads(h @ p["wv"])
    att = (q @ k.transpose(-2, -1)) / math.sqrt(D)
    mask = torch.ones(T, T).tril() == 0
    att = att.masked_fill(mask, float("-inf")).softmax(-1)
    o = (att @ v).transpose(1, 2).reshape(B, T, C) @ p["wo"]
    out = xr + o
    loss = (out * r).sum()
    loss.backward()
    grads = {k: t(v.grad) for k, v in p.items()}
    grads["x"] = t(xr.grad)
    return {
        "inputs": {"x": t(x), "r": t(r)},
        "params": {k: t(v) for k, v in p.items()},
        "loss": float(loss),
        "grads": grads,
        "config": {"B": B, "T": T, "C": C, "H": H},
    }


if __name__ == "__main__":
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    ref = {"torch_version": torch.__version__, "mlp": mlp(), "attention": attention()}
    with open(OUT, "w") as f:
        json.dump(ref, f)
    print("wrote", os.path.normpath(OUT))
