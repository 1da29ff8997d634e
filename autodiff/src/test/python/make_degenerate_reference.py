#!/usr/bin/env python3
"""Gradients at degenerate points (kinks, ties, zeros, NaN, empty tensors), computed by PyTorch in float64.

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 autodiff/src/test/python/make_degenerate_reference.py

Writes autodiff/src/test/resources/reference/degenerate.json: for each case its name (DegenerateGradientsTest
maps it to the same expression in Fluxion), its inputs, the output and the gradient of sum(output) with
respect to every input. NaN and infinities are written as NaN / Infinity / -Infinity.
"""
import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference", "degenerate.json")
D = torch.float64
nan, inf = math.nan, math.inf


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


cases = []


def case(name, f, *inputs):
    leaves = [torch.tensor(v, dtype=D).requires_grad_() if not isinstance(v, torch.Tensor) else v.clone().to(D).requires_grad_() for v in inputs]
    out = f(*leaves)
    out.sum().backward()
    grads = [l.grad if l.grad is not None else torch.zeros_like(l) for l in leaves]
    cases.append({"name": name, "inputs": [t(l) for l in leaves], "out": t(out), "grads": [t(g) for g in grads]})


case("pow_scalar_zero", lambda x: x.pow(0), [0.0, 2.0, -1.0])
case("pow_scalar_half", lambda x: x.pow(0.5), [0.0, 4.0])
case("pow_scalar_two", lambda x: x.pow(2), [0.0, -3.0])
case("pow_tensor", lambda a, b: a.pow(b), [0.0, 0.0, 2.0, 0.0, 0.0, 3.0], [0.0, 2.0, 0.0, -1.0, 0.5, -2.0])
case("norm_zero_vector", lambda x: x.norm(), [0.0, 0.0, 0.0])
case("norm_zero_row", lambda x: x.norm(dim=1), [[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
case("norm_p3_zero_row", lambda x: x.norm(p=3, dim=1), [[0.0, 0.0, 0.0], [1.0, -2.0, 2.0]])
case("norm_p1_zero", lambda x: x.norm(p=1), [0.0, 1.0, -2.0])
case("norm_inf_ties", lambda x: x.norm(p=inf), [2.0, -2.0, 1.0])
case("relu", lambda x: x.relu(), [-1.0, 0.0, 2.0, nan])
case("abs", lambda x: x.abs(), [0.0, -2.0, 3.0, nan])
case("sign", lambda x: x.sign(), [0.0, -2.0, 3.0])
case("clamp", lambda x: x.clamp(0.0, 1.0), [-1.0, 0.0, 0.5, 1.0, 2.0, nan])
case("clamp_min", lambda x: x.clamp(min=0.0), [-1.0, 0.0, 1.0, nan])
case("clamp_max", lambda x: x.clamp(max=0.0), [-1.0, 0.0, 1.0, nan])
case("max_all_ties", lambda x: x.max(), [1.0, 3.0, 3.0, 2.0])
case("max_all_nan", lambda x: x.max(), [1.0, nan, 3.0])
case("min_all_ties", lambda x: x.min(), [1.0, 0.0, 0.0, 0.0])
case("amax_dim_ties", lambda x: x.amax(dim=1), [[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]])
case("amin_dim_ties", lambda x: x.amin(dim=0), [[1.0, 3.0, 3.0], [1.0, 2.0, 4.0]])
case("maximum", lambda a, b: torch.maximum(a, b), [1.0, 2.0, nan, 0.0], [1.0, 3.0, 0.0, nan])
case("minimum", lambda a, b: torch.minimum(a, b), [1.0, 2.0, nan, 0.0], [1.0, 3.0, 0.0, nan])
case("sqrt_zero", lambda x: x.sqrt(), [0.0, 4.0])
case("log_zero", lambda x: x.log(), [0.0, 1.0])
case("div_zero", lambda a, b: a / b, [1.0, 0.0, 1.0, -1.0], [0.0, 0.0, 2.0, 0.0])
case("rsqrt_zero", lambda x: x.rsqrt(), [0.0, 4.0])
case("logsumexp_all_neg_inf", lambda x: x.logsumexp(dim=1), [[-inf, -inf], [0.0, 1.0]])
case("softmax_neg_inf", lambda x: x.softmax(dim=1) * torch.tensor([[1.0, 2.0, 3.0]], dtype=D), [[-inf, 0.0, 1.0]])
case("log_softmax_neg_inf", lambda x: x.log_softmax(dim=1)[:, 1:], [[-inf, 0.0, 1.0]])
case("where_log_zero", lambda x: torch.where(x > 0, x.log(), torch.zeros_like(x)), [0.0, 2.0])
case("tanh_sigmoid_large", lambda x: x.tanh() + x.sigmoid(), [-800.0, 0.0, 800.0])
case("exp_neg_inf", lambda x: x.exp(), [-inf, 0.0])
case("softmax_all_neg_inf", lambda x: x.softmax(dim=1), [[-inf, -inf], [0.0, 1.0]])
case("log_softmax_all_neg_inf", lambda x: x.log_softmax(dim=1), [[-inf, -inf], [0.0, 1.0]])
case("pow_scalar_one", lambda x: x.pow(1), [0.0, -2.0])
case("pow_scalar_neg_one", lambda x: x.pow(-1), [0.0, 2.0])
case("pow_negative_base_half", lambda x: x.pow(0.5), [-1.0, 4.0])
case("pow_zero_zero", lambda a, b: a.pow(b), [0.0], [0.0])
case("max_with_inf", lambda x: x.max(), [-inf, 1.0, inf, inf])
case("norm_with_inf", lambda x: x.norm(), [inf, 1.0])
case("mean_with_nan", lambda x: x.mean(), [nan, 1.0])
case("sum_empty", lambda x: x.sum(), torch.zeros(0))
case("mean_empty", lambda x: x.mean(), torch.zeros(0))
case("sum_empty_dim", lambda x: x.sum(dim=0), torch.zeros(0, 3))
case("mean_empty_dim", lambda x: x.mean(dim=0), torch.zeros(0, 3))
case("mean_of_empty_rows", lambda x: x.mean(dim=1), torch.zeros(2, 0))
case("matmul_empty_inner", lambda a, b: a @ b, torch.zeros(2, 0), torch.zeros(0, 3))

os.makedirs(os.path.dirname(OUT), exist_ok=True)
with open(OUT, "w") as f:
    json.dump(cases, f, separators=(",", ":"))
for c in cases:
    print(c["name"], c["out"]["data"], [g["data"] for g in c["grads"]])
