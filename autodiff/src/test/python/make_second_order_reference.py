#!/usr/bin/env python3
"""Gradients and Hessian-vector products by torch.autograd.grad(create_graph=True), in float64.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 autodiff/src/test/python/make_second_order_reference.py

Writes autodiff/src/test/resources/reference/second_order.json: inputs x (3, 4), w (4, 2), directions vx,
vw, class ids y, and for each function (SecondOrderTest writes the same expression) the loss, its gradient
with respect to x and w, the gradient with respect to the intermediate h = x @ w, and the Hessian times
(vx, vw).
"""
import json
import os

import torch

torch.manual_seed(1515)
OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "second_order.json")
D = torch.float64


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def elementwise(x, w, y):
    h = x @ w
    a = torch.tanh(h) * torch.sigmoid(h) - (-h).exp() / (1 + h.pow(2))
    b = torch.relu(h + 0.1) * torch.log(1 + x.pow(2).sum(1, keepdim=True))
    return a.sum() + b.mean() + w.pow(3).sum() - (x / 3).mean(), h


def classifier(x, w, y):
    h = x @ w
    return -torch.log_softmax(h, 1).gather(1, y.unsqueeze(1)).mean() + (x.sum(0) * 0.5).pow(2).sum(), h


x = torch.randn(3, 4, dtype=D, requires_grad=True)
w = torch.randn(4, 2, dtype=D, requires_grad=True)
vx = torch.randn(3, 4, dtype=D)
vw = torch.randn(4, 2, dtype=D)
y = torch.tensor([0, 1, 1])
out = {"x": t(x), "w": t(w), "vx": t(vx), "vw": t(vw), "y": [int(v) for v in y], "functions": {}}
for name, f in [("elementwise", elementwise), ("classifier", classifier)]:
    loss, h = f(x, w, y)
    gx, gw, gh = torch.autograd.grad(loss, [x, w, h], create_graph=True)
    hx, hw = torch.autograd.grad((gx * vx).sum() + (gw * vw).sum(), [x, w])
    out["functions"][name] = {"loss": float(loss), "gx": t(gx), "gw": t(gw), "gh": t(gh), "hvx": t(hx), "hvw": t(hw)}

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as fh:
    json.dump(out, fh, separators=(",", ":"))
print("wrote", os.path.normpath(OUT))
