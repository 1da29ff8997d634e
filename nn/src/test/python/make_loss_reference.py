#!/usr/bin/env python3
"""Reference values and gradients of the losses in dev.fluxion.nn.Losses, computed by PyTorch in float64.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 nn/src/test/python/make_loss_reference.py

Writes nn/src/test/resources/reference/losses.json: a list of cases, each naming the loss ("fn"), its
tensors ("args", float64 or int64), its options ("opts"), the loss ("out") and the gradient of every
floating argument ("grads", the backward of sum(out * r) with r fixed, stored as "r"). NaN is written as
NaN (Jackson reads it with ALLOW_NON_NUMERIC_NUMBERS).
"""
import json
import os

import torch
import torch.nn.functional as F

torch.manual_seed(2323)
OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "losses.json")
D = torch.float64


def t(x):
    if x.dtype == torch.int64:
        return {"shape": list(x.shape), "dtype": "int64", "data": [int(v) for v in x.reshape(-1).tolist()]}
    return {"shape": list(x.shape), "dtype": "float64", "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def case(name, fn, call, args, opts, grad_args):
    """call(args) -> loss; grads of sum(loss * r) for the args named in grad_args."""
    leaves = {k: (v.clone().requires_grad_() if k in grad_args else v) for k, v in args.items()}
    out = call(leaves)
    r = torch.randn(out.shape, dtype=D) if out.dim() > 0 else torch.tensor(1.0, dtype=D)
    (out * r).sum().backward()
    return {"name": name, "fn": fn, "args": {k: t(v) for k, v in args.items()}, "opts": opts, "out": t(out), "r": t(r),
            "grads": {k: t(leaves[k].grad) for k in grad_args}}


RED = {"NONE": "none", "SUM": "sum", "MEAN": "mean", "BATCHMEAN": "batchmean"}
cases = []


def ce(name, x, y, weight=None, ignore=-100, ls=0.0, red="MEAN"):
    args = {"x": x, "y": y}
    if weight is not None:
        args["weight"] = weight
    opts = {"ignoreIndex": ignore, "labelSmoothing": ls, "reduction": red}
    cases.append(case(name, "crossEntropy", lambda a: F.cross_entropy(a["x"], a["y"], weight=a.get("weight"), ignore_index=ignore,
                                                                      label_smoothing=ls, reduction=RED[red]), args, opts, ["x"]))


def nll(name, x, y, weight=None, ignore=-100, red="MEAN"):
    args = {"x": x, "y": y}
    if weight is not None:
        args["weight"] = weight
    opts = {"ignoreIndex": ignore, "reduction": red}
    cases.append(case(name, "nll", lambda a: F.nll_loss(a["x"], a["y"], weight=a.get("weight"), ignore_index=ignore, reduction=RED[red]),
                      args, opts, ["x"]))


x = torch.randn(6, 5, dtype=D)
y = torch.tensor([0, 4, -100, 2, 2, 1])
w = torch.rand(5, dtype=D) + 0.5
ce("ce_default", x, y)
ce("ce_weight", x, y, weight=w)
ce("ce_weight_smooth", x, y, weight=w, ls=0.2)
ce("ce_smooth", x, y, ls=0.3)
for red in ["SUM", "NONE"]:
    ce("ce_weight_smooth_" + red, x, y, weight=w, ls=0.2, red=red)
    ce("ce_plain_" + red, x, y, red=red)
ce("ce_ignore_in_range", x, torch.tensor([0, 4, 3, 2, 2, 1]), weight=w, ignore=2, ls=0.1)
x4 = torch.randn(2, 3, 2, 4, dtype=D)
y4 = torch.randint(0, 3, (2, 2, 4))
y4[0, 1, 2] = -100
w3 = torch.rand(3, dtype=D) + 0.5
ce("ce_4d", x4, y4)
ce("ce_4d_weight_smooth", x4, y4, weight=w3, ls=0.15)
ce("ce_4d_none", x4, y4, weight=w3, ls=0.15, red="NONE")
ce("ce_unbatched", torch.randn(5, dtype=D), torch.tensor(3), ls=0.1)
ce("ce_unbatched_weight_none", torch.randn(5, dtype=D), torch.tensor(1), weight=w, ls=0.1, red="NONE")
ignored = torch.full((6,), -100)
ce("ce_all_ignored", x, ignored)
ce("ce_all_ignored_weight_smooth", x, ignored, weight=w, ls=0.2)
ce("ce_all_ignored_sum", x, ignored, red="SUM")
probs = torch.softmax(torch.randn(6, 5, dtype=D), 1)
probs4 = torch.softmax(torch.randn(2, 3, 2, 4, dtype=D), 1)
for red in ["MEAN", "SUM", "NONE"]:
    ce("ce_probs_" + red, x, probs, red=red)
    ce("ce_probs_weight_smooth_" + red, x, probs, weight=w, ls=0.2, red=red)
    ce("ce_probs_4d_weight_" + red, x4, probs4, weight=w3, ls=0.1, red=red)
ce("ce_probs_unbatched", torch.randn(5, dtype=D), probs[0], weight=w, ls=0.1)
lp = torch.log_softmax(torch.randn(6, 5, dtype=D), 1)
nll("nll_weight", lp, y, weight=w)
nll("nll_none", lp, y, red="NONE")
nll("nll_4d_weight", torch.log_softmax(x4, 1), y4, weight=w3)


def pointwise(name, fn, call, args, opts, grad_args):
    cases.append(case(name, fn, call, args, opts, grad_args))


a = torch.randn(3, 4, dtype=D)
b = torch.randn(3, 4, dtype=D)
# kinks and boundaries: equal values, differences of exactly +-1 (beta, delta)
a[0, 0], b[0, 0] = 0.5, 0.5
a[0, 1], b[0, 1] = 1.5, 0.5
a[0, 2], b[0, 2] = -0.5, 0.5
for red in ["MEAN", "SUM", "NONE"]:
    pointwise("mse_" + red, "mse", lambda q, red=red: F.mse_loss(q["x"], q["y"], reduction=RED[red]), {"x": a, "y": b}, {"reduction": red}, ["x", "y"])
    pointwise("l1_" + red, "l1", lambda q, red=red: F.l1_loss(q["x"], q["y"], reduction=RED[red]), {"x": a, "y": b}, {"reduction": red}, ["x", "y"])
    for beta in [1.0, 0.0, 0.7]:
        pointwise("smoothL1_%s_%g" % (red, beta), "smoothL1", lambda q, red=red, beta=beta: F.smooth_l1_loss(q["x"], q["y"], reduction=RED[red], beta=beta),
                  {"x": a, "y": b}, {"reduction": red, "beta": beta}, ["x", "y"] if beta else ["x"])
        # beta 0 at d == 0: torch gives input and target both gradient -1 (its kernel's d <= -beta branch for
        # each); Fluxion matches the input's and gives the target +1, so the pair sums to 0 as the derivative should
    for delta in [1.0, 0.4]:
        pointwise("huber_%s_%g" % (red, delta), "huber", lambda q, red=red, delta=delta: F.huber_loss(q["x"], q["y"], reduction=RED[red], delta=delta),
                  {"x": a, "y": b}, {"reduction": red, "delta": delta}, ["x", "y"])

logq = torch.log_softmax(torch.randn(3, 4, dtype=D), 1)
p = torch.softmax(torch.randn(3, 4, dtype=D), 1)
p[1, 2] = 0.0                      # xlogy: 0 log 0 = 0
for red in ["MEAN", "SUM", "NONE", "BATCHMEAN"]:
    pointwise("kl_" + red, "klDiv", lambda q, red=red: F.kl_div(q["x"], q["y"], reduction=RED[red]), {"x": logq, "y": p},
              {"reduction": red, "logTarget": False}, ["x"])
    pointwise("kl_log_" + red, "klDiv", lambda q, red=red: F.kl_div(q["x"], q["y"], reduction=RED[red], log_target=True),
              {"x": logq, "y": torch.log_softmax(torch.randn(3, 4, dtype=D), 1)}, {"reduction": red, "logTarget": True}, ["x", "y"])

z = torch.randn(3, 4, dtype=D) * 3
z[0, :] = 0.0                       # a logit of exactly 0: gradient sigmoid(0) L - pw y
z[1, 0], z[1, 1] = 100.0, -100.0    # stability
tgt = torch.rand(3, 4, dtype=D)
tgt[2, :] = torch.tensor([0.0, 1.0, 0.0, 1.0], dtype=D)
pw = torch.rand(4, dtype=D) * 3
wt = torch.rand(4, dtype=D) + 0.5
for red in ["MEAN", "SUM", "NONE"]:
    pointwise("bce_" + red, "bceWithLogits", lambda q, red=red: F.binary_cross_entropy_with_logits(q["x"], q["y"], reduction=RED[red]),
              {"x": z, "y": tgt}, {"reduction": red}, ["x", "y"])
    pointwise("bce_pw_" + red, "bceWithLogits",
              lambda q, red=red: F.binary_cross_entropy_with_logits(q["x"], q["y"], weight=q["weight"], pos_weight=q["posWeight"], reduction=RED[red]),
              {"x": z, "y": tgt, "weight": wt, "posWeight": pw}, {"reduction": red}, ["x", "y"])
pointwise("bce_zero_logit", "bceWithLogits", lambda q: F.binary_cross_entropy_with_logits(q["x"], q["y"], reduction="sum"),
          {"x": torch.zeros(4, dtype=D), "y": torch.tensor([0.0, 1.0, 0.5, 0.25], dtype=D)}, {"reduction": "SUM"}, ["x"])

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(cases, f, separators=(",", ":"))
print("wrote", len(cases), "cases to", os.path.normpath(OUT))
