#!/usr/bin/env python3
"""Linear and Conv2d under torch.autocast("cpu", dtype=torch.bfloat16): outputs and float32 gradients.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 nn/src/test/python/make_autocast_reference.py

Writes nn/src/test/resources/reference/autocast.safetensors, read by AutocastLayersTest. For each case NAME:
  NAME.param.<p>   the layer's float32 parameters, named as Fluxion's stateDict names them
  NAME.input       the float32 input
  NAME.r           a fixed float32 tensor; the loss is sum(output.float() * r), outside autocast
  NAME.output      the layer's bfloat16 output, stored as float32 (exact: bfloat16 is a subset of float32)
  NAME.grad.<p>    d loss / d parameter (float32, as autocast's recorded casts give it)
Only GEMM layers are compared: for them PyTorch's CPU autocast and Fluxion's (which applies PyTorch's CUDA
op lists on every backend) agree on dtypes; for softmax and sums PyTorch's CPU lists keep bfloat16.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_layer_reference import write_safetensors  # noqa: E402  (the same writer; its main is guarded)

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "reference", "autocast.safetensors")


def case(out, name, layer, x):
    r = torch.rand(x.shape[0], *layer(x).shape[1:])
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    assert y.dtype == torch.bfloat16, y.dtype
    (y.float() * r).sum().backward()
    for p, v in layer.named_parameters():
        out[f"{name}.param.{p}"] = v.detach().clone()
        assert v.grad.dtype == torch.float32
        out[f"{name}.grad.{p}"] = v.grad
    out[f"{name}.input"] = x
    out[f"{name}.r"] = r
    out[f"{name}.output"] = y.float()


def main():
    torch.manual_seed(11)
    out = {}
    case(out, "linear", nn.Linear(24, 10), torch.randn(6, 24))
    case(out, "conv2d", nn.Conv2d(3, 5, 3, stride=1, padding=1), torch.randn(2, 3, 6, 6))
    write_safetensors(OUT, out)
    print("wrote", OUT, len(out), "tensors, torch", torch.__version__)


if __name__ == "__main__":
    main()
