#!/usr/bin/env python3
"""PyTorch's gradients of the parity ops at degenerate points (ties, kinks, bounds, zeros, constants), read by
ParityDegenerateGradientsTest. Each case: a float64 input, and the gradient of sum(f(x) * w) for w = 1, 2, 3, ...
over f's output elements (so that each output element's share is visible).

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 autodiff/src/test/python/make_parity_gradients.py
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "reference", "parity_gradients.json")


def num(v):
    return "NaN" if math.isnan(v) else ("Infinity" if v > 0 else "-Infinity") if math.isinf(v) else v


CASES = [
    ("std_constant", [2.0, 2.0, 2.0, 2.0], lambda x: x.std()),
    ("std_constant_row", [[1.0, 1.0, 1.0], [1.0, 2.0, 4.0]], lambda x: x.std(1)),
    ("std_constant_correction0", [[3.0, 3.0], [0.5, 0.5]], lambda x: torch.std(x, [1], correction=0)),
    ("hardtanh_at_bounds", [-1.0, 1.0, 0.5, -2.0, 2.0], lambda x: F.hardtanh(x, -1.0, 1.0)),
    ("clamp_at_bounds", [-1.0, 1.0, 0.5, -2.0, 2.0], lambda x: torch.clamp(x, -1.0, 1.0)),
    ("leaky_relu_at_zero", [0.0, -1.0, 1.0], lambda x: F.leaky_relu(x, 0.1)),
    ("elu_at_zero", [0.0, -1.0, 1.0], lambda x: F.elu(x, 1.5)),
    ("softplus_at_threshold", [20.0, 19.0, 21.0, 0.0], lambda x: F.softplus(x)),
    ("step_functions_at_integers", [1.0, -2.0, 0.5, 2.5], lambda x: torch.floor(x) + torch.ceil(x) + torch.round(x) + torch.trunc(x)),
    ("max_dim_ties", [[2.0, 5.0, 5.0], [1.0, 1.0, 1.0]], lambda x: torch.max(x, 1).values),
    ("min_dim_ties", [[2.0, 5.0, 2.0], [1.0, 1.0, 1.0]], lambda x: torch.min(x, 1).values),
    ("amax_ties", [[2.0, 5.0, 5.0], [1.0, 1.0, 1.0]], lambda x: torch.amax(x, 1)),
    ("sort_ties", [1.0, 3.0, 3.0, 2.0, 1.0], lambda x: torch.sort(x, stable=True, dim=0).values),
    ("sort_ties_descending", [1.0, 3.0, 3.0, 2.0, 1.0], lambda x: torch.sort(x, stable=True, dim=0, descending=True).values),
    ("cumprod_zeros", [2.0, 0.0, 3.0, 0.0, 4.0], lambda x: torch.cumprod(x, 0)),
    ("prod_one_zero", [2.0, 0.0, 3.0], lambda x: torch.prod(x)),
    ("prod_two_zeros", [2.0, 0.0, 3.0, 0.0], lambda x: torch.prod(x)),
    ("prod_dim_zeros", [[2.0, 0.0, 3.0], [0.0, 0.0, 1.0]], lambda x: torch.prod(x, 1)),
    ("atan2_at_origin", [0.0, 1.0], lambda x: torch.atan2(x[0:1], x[1:2] - 1.0)),
    ("pow_zero_base", [0.0, 1.0, 2.5], lambda x: torch.pow(0.0, x)),
    ("fmod_exact_multiple", [4.0, -3.0], lambda x: torch.fmod(x, 2.0)),
    ("log1p_at_minus_one", [-1.0, 0.0], lambda x: torch.log1p(x)),
    ("index_put_repeated_accumulate", [[1.0, 2.0], [3.0, 4.0]],
     lambda x: x.index_put((torch.tensor([0, 0, 1]),), torch.tensor([[1.0, 1.0]], dtype=torch.float64) * x[1:2], accumulate=True)),
]


def main():
    cases = []
    for name, data, f in CASES:
        x = torch.tensor(data, dtype=torch.float64, requires_grad=True)
        y = f(x)
        w = torch.arange(1, y.numel() + 1, dtype=torch.float64).reshape(y.shape)
        (y * w).sum().backward()
        cases.append({"name": name, "shape": list(x.shape), "input": [num(v) for v in x.detach().reshape(-1).tolist()],
                      "output": [num(v) for v in y.detach().reshape(-1).tolist()],
                      "grad": [num(v) for v in x.grad.reshape(-1).tolist()]})
    with open(OUT, "w") as out:
        json.dump({"torch": torch.__version__, "cases": cases}, out, indent=0, allow_nan=False)
        out.write("\n")
    print(f"{len(cases)} cases -> {os.path.relpath(OUT)}")


if __name__ == "__main__":
    main()
