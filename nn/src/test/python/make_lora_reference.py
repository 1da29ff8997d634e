#!/usr/bin/env python3
"""LoRA forward and gradients computed by PyTorch, as PEFT's lora.Linear and lora.Embedding compute them
(result = base(x) + lora_B(lora_A(dropout(x))) * scaling, dropout 0 here), for dev.fluxion.nn.lora.LoraTest.

Regenerate:  /usr/bin/python3 nn/src/test/python/make_lora_reference.py
Writes nn/src/test/resources/reference/lora.safetensors:
  linear.{x, weight, bias, A, B, r, y, grad.x, grad.A, grad.B}   r=4, alpha=8 (scaling 2); loss = sum(y * r)
  rslora.y                                                     the same layer with use_rslora (scaling 8/sqrt(4) = 4)
  embedding.{ids, weight, A, B, r, y, grad.A, grad.B}          r=3, alpha=6 (scaling 2)
A and B are random (B nonzero), so the adapter path is exercised; the layers' initial values are tested in Java.
"""
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(__file__))
from make_layer_reference import write_safetensors  # noqa: E402  (same writer, same format)

OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "lora.safetensors")


def main():
    torch.manual_seed(14)
    out = {}
    # Linear 6 -> 5, rank 4, alpha 8, input (2, 3, 6)
    x = torch.randn(2, 3, 6, requires_grad=True)
    w, b = torch.randn(5, 6) * 0.4, torch.randn(5) * 0.1
    a = (torch.rand(4, 6) * 2 - 1) / math.sqrt(6)
    a.requires_grad_(True)
    bb = (torch.randn(5, 4) * 0.3).requires_grad_(True)
    r = torch.randn(2, 3, 5)
    y = F.linear(x, w, b) + F.linear(F.linear(x, a), bb) * (8 / 4)
    (y * r).sum().backward()
    out.update({"linear.x": x, "linear.weight": w, "linear.bias": b, "linear.A": a, "linear.B": bb, "linear.r": r, "linear.y": y,
                "linear.grad.x": x.grad, "linear.grad.A": a.grad, "linear.grad.B": bb.grad})
    with torch.no_grad():
        out["rslora.y"] = F.linear(x, w, b) + F.linear(F.linear(x, a), bb) * (8 / math.sqrt(4))
    # Embedding 7 x 4, rank 3, alpha 6
    ids = torch.tensor([[0, 3, 6], [2, 2, 5]])
    we = torch.randn(7, 4)
    ea = (torch.randn(3, 7) * 0.5).requires_grad_(True)      # lora_embedding_A (r, num)
    eb = (torch.randn(4, 3) * 0.5).requires_grad_(True)      # lora_embedding_B (dim, r)
    er = torch.randn(2, 3, 4)
    ey = F.embedding(ids, we) + (F.embedding(ids, ea.T) @ eb.T) * (6 / 3)
    (ey * er).sum().backward()
    out.update({"embedding.ids": ids, "embedding.weight": we, "embedding.A": ea, "embedding.B": eb, "embedding.r": er, "embedding.y": ey,
                "embedding.grad.A": ea.grad, "embedding.grad.B": eb.grad})
    write_safetensors(OUT, out)
    print("wrote", os.path.normpath(OUT))


if __name__ == "__main__":
    main()
