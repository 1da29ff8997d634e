#!/usr/bin/env python3
"""Reference outputs and gradients, computed by PyTorch, of the layers added for issue 15 (convolutions
with every option, pooling with padding and ties, normalization, attention, recurrent layers).

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 nn/src/test/python/make_layer2_reference.py

Writes nn/src/test/resources/reference/layers2.safetensors in the format of make_layer_reference.py
(same names: NAME.param.<p>, NAME.input, NAME.r, NAME.output, NAME.grad.input, NAME.grad.<p>), plus
NAME.buffer.<b> for buffers after the forward (running statistics) and NAME.extra.<k> for extra inputs.
"""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(__file__))
from make_layer_reference import perturb, write_safetensors  # noqa: E402

torch.manual_seed(11)
OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "layers2.safetensors")


def case(out, name, module, x, train=True, perturb_params=True, extra=None):
    """Runs module(x) (in train or eval mode), loss = sum(y * r), stores inputs, outputs, grads, buffers."""
    if perturb_params:
        perturb(module)
    for bname, b in module.named_buffers():          # store buffers as they were before the forward
        out[name + ".buffer0." + bname] = b.clone()
    module.train(train)
    x = x.clone()
    if x.is_floating_point():
        x.requires_grad_()
    y = module(x) if extra is None else module(x, *extra)
    if isinstance(y, tuple):
        y = y[0]
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
    for bname, b in module.named_buffers():
        out[name + ".buffer." + bname] = b.clone()


def ties(*shape):
    """Values from {0, 1, 2}: most pooling windows hold several equal maxima."""
    return torch.randint(0, 3, shape).float()


def main():
    out = {}
    case(out, "conv2d_rect_groups", nn.Conv2d(4, 6, (3, 5), stride=(2, 1), padding=(1, 2), dilation=(1, 2), groups=2), torch.randn(2, 4, 7, 9))
    case(out, "conv2d_same_even", nn.Conv2d(3, 4, 4, padding="same", dilation=2), torch.randn(2, 3, 6, 7))
    case(out, "conv2d_depthwise_nobias", nn.Conv2d(4, 4, 3, groups=4, bias=False, padding="valid"), torch.randn(1, 4, 5, 6))
    case(out, "conv1d", nn.Conv1d(3, 4, 3, stride=2, padding=1), torch.randn(2, 3, 9))
    case(out, "conv1d_same", nn.Conv1d(2, 4, 4, padding="same"), torch.randn(2, 2, 8))
    case(out, "maxpool2d_ties", nn.MaxPool2d(2, 2), ties(2, 3, 6, 6))
    case(out, "maxpool2d_pad_ties", nn.MaxPool2d(3, 2, padding=1), ties(1, 2, 7, 7))
    case(out, "maxpool2d_dilated", nn.MaxPool2d(3, 1, padding=1, dilation=2), torch.randn(1, 2, 8, 8))
    case(out, "avgpool2d_pad", nn.AvgPool2d(3, 2, padding=1), torch.randn(1, 2, 7, 7))
    case(out, "convtranspose2d", nn.ConvTranspose2d(4, 6, (3, 2), stride=2, padding=1, output_padding=1, groups=2), torch.randn(2, 4, 4, 5))
    case(out, "convtranspose2d_dilated", nn.ConvTranspose2d(3, 2, 3, stride=1, padding=2, dilation=2, bias=False), torch.randn(1, 3, 5, 5))
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    write_safetensors(OUT, out)
    print("wrote", os.path.normpath(OUT), len(out), "tensors")


if __name__ == "__main__":
    main()
