#!/usr/bin/env python3
"""PyTorch reference values for the Fluxion tensor tests (read by PyTorchReferenceTest).

Regenerate, from the repository root, with a Python that has PyTorch (written against Debian's
python3-torch 1.13; on Debian that is /usr/bin/python3, not a pyenv python3 without torch):

    /usr/bin/python3 tensor/src/test/python/make_reference.py

It rewrites tensor/src/test/resources/reference/*.json. Inputs come from closed-form formulas
(sin/cos of arange, exact powers of two), not from a random generator, so the files are the same on
every run and every machine; a diff after regenerating means PyTorch's values changed.

File layout (plain JSON, one file per op family):
    {"torch": "<version>", "tensors": {name: tensor}, "cases": [case, ...]}
    case   = {"name": str, "op": str, "args": {...}, "inputs": [tensor name, ...], "outputs": [tensor, ...]}
    tensor = {"dtype": "float32"|..., "shape": [...], and either
              "data": row-major values (floats as exact decimal values of their dtype; non-finite values
                      as the strings "NaN", "Infinity", "-Infinity"; bool as 0/1), or
              "bits": row-major 16-bit patterns (float16, bfloat16), so those compare bit for bit}

Semantics the references encode, matching Fluxion's documented behaviour:
  * float16/bfloat16 ops compute in float32 and round once (PyTorch's CPU lacks many half kernels).
  * integer and bool sums are int64; mixed dtypes never occur (Fluxion refuses them).
"""
import json
import math
import os

import torch
import torch.nn.functional as F

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "reference")

DTYPES = {
    "float32": torch.float32, "float64": torch.float64, "float16": torch.float16, "bfloat16": torch.bfloat16,
    "int64": torch.int64, "int32": torch.int32, "int8": torch.int8, "uint8": torch.uint8, "bool": torch.bool,
}
NAMES = {v: k for k, v in DTYPES.items()}
HALF = (torch.float16, torch.bfloat16)
INF = float("inf")


def num(v):
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return v


def enc(t):
    t = t.detach().contiguous()
    d = {"dtype": NAMES[t.dtype], "shape": list(t.shape)}
    flat = t.reshape(-1)
    if t.dtype in HALF:
        d["bits"] = [v & 0xFFFF for v in flat.view(torch.int16).tolist()]
    elif t.is_floating_point():
        d["data"] = [num(v) for v in flat.tolist()]  # float32 -> python float is exact
    elif t.dtype == torch.bool:
        d["data"] = [1 if v else 0 for v in flat.tolist()]
    else:
        d["data"] = flat.tolist()
    return d


def wave(shape, k=0, lo=-1.0, hi=1.0, dtype=torch.float64):
    """Deterministic, irregular-looking values in [lo, hi] (no two equal for small sizes)."""
    n = math.prod(shape)
    t = torch.arange(n, dtype=torch.float64)
    u = 0.5 + 0.5 * torch.sin(t * 2.3 + 0.7 * k + 0.1) * torch.cos(t * 0.37 + 1.3 * k + 0.2)
    return (lo + (hi - lo) * u).reshape(shape).to(dtype)


def ints(shape, k, lo, hi, dtype=torch.int64):
    """Deterministic integers in [lo, hi)."""
    n = math.prod(shape)
    t = torch.arange(n, dtype=torch.int64)
    return ((t * 7 + k * 13 + (t * t) % 5) % (hi - lo) + lo).reshape(shape).to(dtype)


def in_float(fn, *xs):
    """fn evaluated on float32 copies of half inputs and rounded once to their dtype."""
    dt = xs[0].dtype
    if dt in HALF:
        return fn(*[x.float() if x.is_floating_point() else x for x in xs]).to(dt)
    return fn(*xs)


class Ref:
    def __init__(self, file):
        self.file = file
        self.tensors = {}
        self.values = {}
        self.cases = []

    def t(self, name, value):
        """Registers an input tensor under name; returns the name."""
        assert name not in self.tensors, name
        self.tensors[name] = enc(value)
        self.values[name] = value.detach().clone()
        return name

    def v(self, name):
        return self.values[name]

    def case(self, name, op, inputs, outputs, **args):
        if isinstance(outputs, torch.Tensor):
            outputs = [outputs]
        self.cases.append({"name": name, "op": op, "args": args, "inputs": list(inputs),
                           "outputs": [enc(o) for o in outputs]})

    def write(self):
        os.makedirs(OUT, exist_ok=True)
        doc = {"torch": torch.__version__, "tensors": self.tensors, "cases": self.cases}
        with open(os.path.join(OUT, self.file), "w") as f:
            json.dump(doc, f, separators=(",", ":"), allow_nan=False)
            f.write("\n")
        names = [c["name"] for c in self.cases]
        assert len(names) == len(set(names)), "duplicate case names in " + self.file
        print(f"{self.file}: {len(self.cases)} cases")


FLOATS = ["float32", "float64"]
ALL_FLOATS = ["float32", "float64", "float16", "bfloat16"]

# ---------------------------------------------------------------- elementwise

UNARY = {
    "neg": torch.neg, "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "rsqrt": torch.rsqrt,
    "abs": torch.abs, "sign": torch.sign, "sin": torch.sin, "cos": torch.cos, "tanh": torch.tanh,
    "sigmoid": torch.sigmoid, "relu": torch.relu, "gelu": F.gelu,
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"), "silu": F.silu,
}
# input range per op: positive for log/sqrt/rsqrt, wide for the saturating functions
DOMAIN = {"log": (0.01, 20.0), "sqrt": (0.0, 20.0), "rsqrt": (0.01, 20.0), "exp": (-12.0, 12.0),
          "sigmoid": (-20.0, 20.0), "silu": (-20.0, 20.0), "gelu": (-8.0, 8.0), "gelu_tanh": (-8.0, 8.0),
          "tanh": (-6.0, 6.0)}


def elementwise():
    r = Ref("elementwise.json")
    for dt in ALL_FLOATS:
        for op, fn in UNARY.items():
            lo, hi = DOMAIN.get(op, (-5.0, 5.0))
            x = r.t(f"{op}_x_{dt}", wave([4, 6], k=len(op), lo=lo, hi=hi).to(DTYPES[dt]))
            r.case(f"{op}_{dt}", op, [x], in_float(fn, r.v(x)))
    # special values: zeros, negatives, infinities, NaN
    for dt in FLOATS:
        x = r.t(f"special_x_{dt}", torch.tensor([0.0, -0.0, -1.0, 1.0, INF, -INF, float("nan"), 1e-30, -50.0, 50.0],
                                               dtype=DTYPES[dt]))
        # sign(NaN): PyTorch gives 0, Fluxion NaN (as Math.signum and NumPy); ElementwiseTest covers that case
        xs = r.t(f"special_nonan_x_{dt}", r.v(x)[~torch.isnan(r.v(x))])
        for op, fn in UNARY.items():
            src = xs if op == "sign" else x
            r.case(f"{op}_special_{dt}", op, [src], fn(r.v(src)))
    for dt in ["int64", "int32", "int8", "uint8"]:
        x = r.t(f"int_x_{dt}", ints([3, 5], 1, -100 if dt != "uint8" else 0, 120, DTYPES[dt]))
        for op in ["neg", "abs", "sign", "relu"]:
            r.case(f"{op}_{dt}", op, [x], UNARY[op](r.v(x)))

    binary = {"add": torch.add, "sub": torch.sub, "mul": torch.mul, "div": torch.div, "pow": torch.pow,
              "maximum": torch.maximum, "minimum": torch.minimum}
    shapes = [([3, 4], [3, 4]), ([2, 3, 4], [4]), ([3, 1, 5], [4, 1]), ([1], [2, 3]), ([], [2, 3]), ([2, 1], [1, 3])]
    for dt in ALL_FLOATS:
        for i, (sa, sb) in enumerate(shapes):
            if dt in HALF and i not in (1, 2):
                continue
            a = r.t(f"bin_a{i}_{dt}", wave(sa, k=i, lo=-3, hi=3).to(DTYPES[dt]))
            b = r.t(f"bin_b{i}_{dt}", wave(sb, k=i + 10, lo=-3, hi=3).to(DTYPES[dt]))
            pa = r.t(f"bin_pa{i}_{dt}", wave(sa, k=i, lo=0.1, hi=3).to(DTYPES[dt]))      # pow base > 0
            db = r.t(f"bin_db{i}_{dt}", wave(sb, k=i + 20, lo=0.5, hi=2).to(DTYPES[dt])
                     * torch.where(wave(sb, k=i + 30) > 0, 1.0, -1.0).to(DTYPES[dt]))    # |divisor| >= 0.5
            for op, fn in binary.items():
                ins = [pa, b] if op == "pow" else [a, db] if op == "div" else [a, b]
                r.case(f"{op}_{sa}_{sb}_{dt}", op, ins, in_float(fn, *[r.v(n) for n in ins]))
    for dt in ["int64", "int32", "int8", "uint8"]:
        lo = 0 if dt == "uint8" else -60
        a = r.t(f"bin_a_{dt}", ints([3, 1, 5], 2, lo, 60, DTYPES[dt]))
        b = r.t(f"bin_b_{dt}", ints([4, 1], 5, lo, 60, DTYPES[dt]))
        for op in ["add", "sub", "mul", "maximum", "minimum"]:
            r.case(f"{op}_{dt}", op, [a, b], binary[op](r.v(a), r.v(b)))  # int8/uint8 products wrap as in C
    # scalars: tensor op python number keeps the tensor's dtype
    for dt in ALL_FLOATS:
        x = r.t(f"sc_x_{dt}", wave([3, 4], k=3, lo=0.2, hi=4).to(DTYPES[dt]))
        for op, v, fn in [("add", 2.5, torch.add), ("sub", 0.75, torch.sub), ("mul", -1.5, torch.mul),
                          ("div", 3.0, torch.div), ("pow", 2.0, torch.pow), ("pow", 0.5, torch.pow),
                          ("pow", -1.5, torch.pow), ("rsub", 2.0, lambda t, s: s - t)]:
            r.case(f"{op}_scalar_{v}_{dt}", op + "_scalar", [x], in_float(lambda t: fn(t, v), r.v(x)), value=v)
    xi = r.t("sc_x_int64", ints([3, 4], 3, -50, 50))
    for op, v, fn in [("add", 7, torch.add), ("sub", -3, torch.sub), ("mul", 4, torch.mul), ("rsub", 10, lambda t, s: s - t)]:
        r.case(f"{op}_scalar_{v}_int64", op + "_scalar", [xi], fn(r.v(xi), v), value=v)

    # comparisons: values on a half-integer grid so that many pairs are equal
    cmp = {"eq": torch.eq, "ne": torch.ne, "lt": torch.lt, "le": torch.le, "gt": torch.gt, "ge": torch.ge}
    for dt in FLOATS + ["float16", "int64", "int32", "uint8"]:
        scale = 2 if DTYPES[dt].is_floating_point else 1
        a = r.t(f"cmp_a_{dt}", (torch.round(wave([3, 1, 4], k=1, lo=0, hi=4) * scale) / scale).to(DTYPES[dt]))
        b = r.t(f"cmp_b_{dt}", (torch.round(wave([2, 4], k=2, lo=0, hi=4) * scale) / scale).to(DTYPES[dt]))
        for op, fn in cmp.items():
            r.case(f"{op}_{dt}", op, [a, b], fn(r.v(a), r.v(b)))
        for op, fn in cmp.items():
            r.case(f"{op}_scalar_{dt}", op + "_scalar", [a], fn(r.v(a), 2.0 if scale == 2 else 2), value=2)
    nan = r.t("cmp_nan_float32", torch.tensor([float("nan"), 1.0, INF, -INF, 0.0]))
    nan2 = r.t("cmp_nan2_float32", torch.tensor([float("nan"), float("nan"), INF, 1.0, -0.0]))
    for op, fn in cmp.items():
        r.case(f"{op}_nan_float32", op, [nan, nan2], fn(r.v(nan), r.v(nan2)))
    for op, fn in [("maximum", torch.maximum), ("minimum", torch.minimum)]:
        r.case(f"{op}_nan_float32", op, [nan, nan2], fn(r.v(nan), r.v(nan2)))

    # where, clamp
    c = r.t("where_c", wave([3, 1, 4], k=4) > 0)
    for dt in FLOATS + ["bfloat16", "int64", "int32", "int8", "bool"]:
        if dt == "bool":
            a = r.t(f"where_a_{dt}", wave([2, 4], k=5) > 0.3)
            b = r.t(f"where_b_{dt}", wave([3, 2, 1], k=6) > -0.3)
        else:
            a = r.t(f"where_a_{dt}", (wave([2, 4], k=5, lo=-9, hi=9)).to(DTYPES[dt]))
            b = r.t(f"where_b_{dt}", (wave([3, 2, 1], k=6, lo=-9, hi=9)).to(DTYPES[dt]))
        r.case(f"where_{dt}", "where", [c, a, b], torch.where(r.v(c), r.v(a), r.v(b)))
    for dt in ALL_FLOATS:
        x = r.t(f"clamp_x_{dt}", wave([4, 5], k=7, lo=-3, hi=3).to(DTYPES[dt]))
        for lo, hi in [(-1.0, 1.5), (-0.5, None), (None, 0.25), (0.5, 0.5)]:
            r.case(f"clamp_{lo}_{hi}_{dt}", "clamp", [x], in_float(lambda t: torch.clamp(t, lo, hi), r.v(x)), min=lo, max=hi)
    xi = r.t("clamp_x_int64", ints([4, 5], 7, -20, 20))
    r.case("clamp_int64", "clamp", [xi], torch.clamp(r.v(xi), -5, 8), min=-5, max=8)
    r.case("clamp_min_int64", "clamp", [xi], torch.clamp(r.v(xi), min=0), min=0, max=None)
    r.write()


# ---------------------------------------------------------------- reductions and softmax

def reductions():
    r = Ref("reductions.json")
    dim_sets = [None, [0], [1], [-1], [0, 2], [1, 2], [0, 1, 2]]
    for dt in FLOATS:
        x = r.t(f"x_{dt}", wave([3, 4, 5], k=1, lo=-2, hi=3).to(DTYPES[dt]))
        X = r.v(x)
        for dims in dim_sets:
            for keep in ([False] if dims is None else [False, True]):
                kw = {} if dims is None else {"dim": dims, "keepdim": keep}
                tag = f"{'all' if dims is None else dims}_{'keep' if keep else 'drop'}_{dt}"
                args = {"dims": dims or [], "keepdim": keep}
                r.case(f"sum_{tag}", "sum", [x], torch.sum(X, **kw), **args)
                r.case(f"mean_{tag}", "mean", [x], torch.mean(X, **kw), **args)
                r.case(f"amax_{tag}", "amax", [x], torch.amax(X, dim=dims or [0, 1, 2], keepdim=keep), **args)
                r.case(f"amin_{tag}", "amin", [x], torch.amin(X, dim=dims or [0, 1, 2], keepdim=keep), **args)
                r.case(f"var_{tag}", "var", [x], torch.var(X, **kw), correction=1, **args)
                r.case(f"var0_{tag}", "var", [x], torch.var(X, unbiased=False, **kw), correction=0, **args)
                r.case(f"std_{tag}", "std", [x], torch.std(X, **kw), **args)
                r.case(f"logsumexp_{tag}", "logsumexp", [x],
                       torch.logsumexp(X, dim=dims or [0, 1, 2], keepdim=keep), **args)
                for p in [2.0, 1.0, INF, 3.0]:
                    r.case(f"norm{p}_{tag}", "norm", [x],
                           torch.linalg.vector_norm(X, ord=p, dim=dims, keepdim=keep), p=num(p), **args)
        for d in [0, 1, 2, -1]:
            for keep in [False, True]:
                r.case(f"argmax_{d}_{keep}_{dt}", "argmax", [x], torch.argmax(X, d, keep), dim=d, keepdim=keep)
                r.case(f"argmin_{d}_{keep}_{dt}", "argmin", [x], torch.argmin(X, d, keep), dim=d, keepdim=keep)
        r.case(f"argmax_flat_{dt}", "argmax", [x], torch.argmax(X), dim=None, keepdim=False)
        r.case(f"argmin_flat_{dt}", "argmin", [x], torch.argmin(X), dim=None, keepdim=False)
        # logsumexp with -inf entries and a large offset (the shift keeps it finite)
        y = r.t(f"lse_special_{dt}", torch.tensor([[1000.0, 1001.0, 999.0], [-INF, 0.0, 1.0], [-INF, -INF, -INF]],
                                                  dtype=DTYPES[dt]))
        r.case(f"logsumexp_special_{dt}", "logsumexp", [y], torch.logsumexp(r.v(y), 1), dims=[1], keepdim=False)
    for dt in ["float16", "bfloat16"]:
        x = r.t(f"x_{dt}", wave([3, 4, 5], k=1, lo=-2, hi=3).to(DTYPES[dt]))
        for dims in [None, [1], [0, 2]]:
            kw = {} if dims is None else {"dim": dims}
            args = {"dims": dims or [], "keepdim": False}
            tag = f"{'all' if dims is None else dims}_{dt}"
            r.case(f"sum_{tag}", "sum", [x], in_float(lambda t: torch.sum(t, **kw), r.v(x)), **args)
            r.case(f"mean_{tag}", "mean", [x], in_float(lambda t: torch.mean(t, **kw), r.v(x)), **args)
            r.case(f"amax_{tag}", "amax", [x], torch.amax(r.v(x), dim=dims or [0, 1, 2]), **args)
        r.case(f"argmax_1_{dt}", "argmax", [x], torch.argmax(r.v(x).float(), 1), dim=1, keepdim=False)
    # integer and bool reductions: sums widen to int64
    for dt in ["int64", "int32", "int8", "uint8", "bool"]:
        if dt == "bool":
            x = r.t(f"x_{dt}", wave([3, 4, 5], k=2) > 0.1)
        else:
            x = r.t(f"x_{dt}", ints([3, 4, 5], 3, 0 if dt == "uint8" else -50, 100, DTYPES[dt]))
        X = r.v(x)
        r.case(f"sum_all_{dt}", "sum", [x], torch.sum(X), dims=[], keepdim=False)
        r.case(f"sum_[1]_keep_{dt}", "sum", [x], torch.sum(X, 1, keepdim=True), dims=[1], keepdim=True)
        r.case(f"sum_[0, 2]_{dt}", "sum", [x], torch.sum(X, [0, 2]), dims=[0, 2], keepdim=False)
        if dt != "bool":
            r.case(f"amax_[2]_{dt}", "amax", [x], torch.amax(X, 2), dims=[2], keepdim=False)
            r.case(f"amin_[0, 1]_{dt}", "amin", [x], torch.amin(X, [0, 1]), dims=[0, 1], keepdim=False)
            r.case(f"argmax_1_{dt}", "argmax", [x], torch.argmax(X, 1), dim=1, keepdim=False)
            r.case(f"argmin_2_{dt}", "argmin", [x], torch.argmin(X, 2), dim=2, keepdim=False)

    for dt in ALL_FLOATS:
        x = r.t(f"sm_x_{dt}", wave([3, 4, 5], k=5, lo=-4, hi=4).to(DTYPES[dt]))
        for d in [0, 1, 2, -1]:
            r.case(f"softmax_{d}_{dt}", "softmax", [x], in_float(lambda t: F.softmax(t, d), r.v(x)), dim=d)
            r.case(f"log_softmax_{d}_{dt}", "log_softmax", [x], in_float(lambda t: F.log_softmax(t, d), r.v(x)), dim=d)
    for dt in FLOATS:
        # large values (needs the max shift), masked entries (-inf), a fully masked row (NaN, as PyTorch)
        y = r.t(f"sm_special_{dt}", torch.tensor(
            [[1000.0, 1001.0, 1002.0, 999.0], [-INF, 0.0, 1.0, -INF], [-1e4, 0.0, 1e4, 5.0], [-INF, -INF, -INF, -INF]],
            dtype=DTYPES[dt]))
        r.case(f"softmax_special_{dt}", "softmax", [y], F.softmax(r.v(y), -1), dim=-1)
        r.case(f"log_softmax_special_{dt}", "log_softmax", [y], F.log_softmax(r.v(y), -1), dim=-1)
    r.write()


# ---------------------------------------------------------------- linear algebra

def linalg():
    r = Ref("linalg.json")
    pairs = [([3, 4], [4, 5]), ([2, 3, 4], [4, 5]), ([3, 4], [2, 4, 5]), ([2, 1, 3, 4], [5, 4, 2]),
             ([4], [4, 5]), ([3, 4], [4]), ([4], [4]), ([2, 3, 4], [4]), ([4], [2, 4, 3]), ([1, 7], [7, 1]),
             ([5, 1], [1, 6])]
    for dt in ALL_FLOATS:
        for i, (sa, sb) in enumerate(pairs):
            a = r.t(f"mm_a{i}_{dt}", wave(sa, k=i, lo=-2, hi=2).to(DTYPES[dt]))
            b = r.t(f"mm_b{i}_{dt}", wave(sb, k=i + 40, lo=-2, hi=2).to(DTYPES[dt]))
            r.case(f"matmul_{sa}_{sb}_{dt}", "matmul", [a, b], in_float(torch.matmul, r.v(a), r.v(b)))
        inp = r.t(f"addmm_in_{dt}", wave([3, 5], k=1).to(DTYPES[dt]))
        bias = r.t(f"addmm_bias_{dt}", wave([5], k=2).to(DTYPES[dt]))
        m1 = r.t(f"addmm_m1_{dt}", wave([3, 4], k=3).to(DTYPES[dt]))
        m2 = r.t(f"addmm_m2_{dt}", wave([4, 5], k=4).to(DTYPES[dt]))
        for beta, alpha in [(1.0, 1.0), (0.5, 2.0), (0.0, 1.0), (1.0, -0.25)]:
            for name, src in [("in", inp), ("bias", bias)]:
                r.case(f"addmm_{name}_{beta}_{alpha}_{dt}", "addmm", [src, m1, m2],
                       in_float(lambda s, p, q: torch.addmm(s, p, q, beta=beta, alpha=alpha), r.v(src), r.v(m1), r.v(m2)),
                       beta=beta, alpha=alpha)
        u = r.t(f"outer_u_{dt}", wave([4], k=5, lo=-3, hi=3).to(DTYPES[dt]))
        w = r.t(f"outer_v_{dt}", wave([6], k=6, lo=-3, hi=3).to(DTYPES[dt]))
        r.case(f"outer_{dt}", "outer", [u, w], in_float(torch.outer, r.v(u), r.v(w)))
    u = r.t("outer_u_int64", ints([4], 1, -5, 5))
    w = r.t("outer_v_int64", ints([3], 2, -5, 5))
    r.case("outer_int64", "outer", [u, w], torch.outer(r.v(u), r.v(w)))
    r.write()


# ---------------------------------------------------------------- indexing

def indexing():
    r = Ref("indexing.json")
    for dt in FLOATS + ["bfloat16", "int64", "int32", "uint8", "bool"]:
        if dt == "bool":
            x = r.t(f"x_{dt}", wave([4, 5, 3], k=1) > 0)
        elif DTYPES[dt].is_floating_point:
            x = r.t(f"x_{dt}", wave([4, 5, 3], k=1, lo=-5, hi=5).to(DTYPES[dt]))
        else:
            x = r.t(f"x_{dt}", ints([4, 5, 3], 1, 0, 100, DTYPES[dt]))
        X = r.v(x)
        for d, idx in [(0, [3, 0, 3, 1]), (1, [4, 2]), (2, [2, 2, 0, 1, 0]), (-1, [1])]:
            i = f"isel_idx_{d}_{dt}"
            r.t(i, torch.tensor(idx))
            r.case(f"index_select_{d}_{dt}", "index_select", [x, i], torch.index_select(X, d, r.v(i)), dim=d)
        for d, shape in [(0, [2, 5, 3]), (1, [4, 7, 2]), (2, [3, 4, 5]), (-1, [4, 5, 1])]:
            i = f"gather_idx_{d}_{dt}"
            r.t(i, ints(shape, d + 3, 0, X.shape[d]))
            r.case(f"gather_{d}_{dt}", "gather", [x, i], torch.gather(X, d, r.v(i)), dim=d)
        if dt != "bool":
            for d, shape in [(0, [6, 5, 3]), (1, [4, 2, 3]), (2, [2, 3, 7])]:
                i = f"scatter_idx_{d}_{dt}"
                r.t(i, ints(shape, d + 7, 0, X.shape[d]))           # repeated targets: contributions add up
                if DTYPES[dt].is_floating_point:
                    s = r.t(f"scatter_src_{d}_{dt}", wave(shape, k=d + 9, lo=-2, hi=2).to(DTYPES[dt]))
                else:
                    s = r.t(f"scatter_src_{d}_{dt}", ints(shape, d + 9, 0, 10, DTYPES[dt]))
                r.case(f"scatter_add_{d}_{dt}", "scatter_add", [x, i, s],
                       in_float(lambda a, b, c: torch.scatter_add(a, d, b, c), X, r.v(i), r.v(s)), dim=d)
        mask = r.t(f"mask_{dt}", wave([1, 5, 1], k=3) > 0)
        mask2 = r.t(f"mask2_{dt}", wave([5, 3], k=4) > 0.2)
        fill = -7 if dt not in ("bool", "uint8") else 1
        if DTYPES[dt].is_floating_point:
            fill = -2.5
        r.case(f"masked_fill_{dt}", "masked_fill", [x, mask], X.masked_fill(r.v(mask), fill), value=fill)
        r.case(f"masked_fill2_{dt}", "masked_fill", [x, mask2], X.masked_fill(r.v(mask2), fill), value=fill)
    for dt in FLOATS:
        m = r.t(f"tri_x_{dt}", wave([4, 5], k=2, lo=1, hi=9).to(DTYPES[dt]))
        b = r.t(f"tri_b_{dt}", wave([2, 3, 4], k=3, lo=1, hi=9).to(DTYPES[dt]))
        for diag in [-2, -1, 0, 1, 3]:
            r.case(f"tril_{diag}_{dt}", "tril", [m], torch.tril(r.v(m), diag), diagonal=diag)
            r.case(f"triu_{diag}_{dt}", "triu", [m], torch.triu(r.v(m), diag), diagonal=diag)
            r.case(f"tril_batch_{diag}_{dt}", "tril", [b], torch.tril(r.v(b), diag), diagonal=diag)
            r.case(f"triu_batch_{diag}_{dt}", "triu", [b], torch.triu(r.v(b), diag), diagonal=diag)
    mi = r.t("tri_x_int64", ints([3, 4], 1, 1, 50))
    r.case("tril_int64", "tril", [mi], torch.tril(r.v(mi)), diagonal=0)
    r.case("triu_int64", "triu", [mi], torch.triu(r.v(mi), 1), diagonal=1)
    ids = r.t("ids", ints([2, 3], 1, 0, 6))
    for dt in FLOATS + ["bfloat16"]:
        w = r.t(f"emb_w_{dt}", wave([6, 4], k=8).to(DTYPES[dt]))
        r.case(f"embedding_{dt}", "embedding", [w, ids], F.embedding(r.v(ids), r.v(w)))
    r.case("one_hot_5", "one_hot", [ids], F.one_hot(r.v(ids), 6), num_classes=6)
    r.case("one_hot_9", "one_hot", [ids], F.one_hot(r.v(ids), 9), num_classes=9)
    ids1 = r.t("ids1", torch.tensor([0, 3, 1, 3]))
    r.case("one_hot_1d", "one_hot", [ids1], F.one_hot(r.v(ids1), 4), num_classes=4)
    r.write()


# ---------------------------------------------------------------- joins

def joins():
    r = Ref("joins.json")
    for dt in FLOATS + ["float16", "int64", "int8", "bool"]:
        def mk(name, shape, k):
            if dt == "bool":
                return r.t(f"{name}_{dt}", wave(shape, k=k) > 0)
            if DTYPES[dt].is_floating_point:
                return r.t(f"{name}_{dt}", wave(shape, k=k, lo=-9, hi=9).to(DTYPES[dt]))
            return r.t(f"{name}_{dt}", ints(shape, k, -50, 50, DTYPES[dt]))
        for d, shapes in [(0, [[2, 3, 4], [1, 3, 4], [3, 3, 4]]), (1, [[2, 1, 4], [2, 3, 4]]), (-1, [[2, 3, 2], [2, 3, 5], [2, 3, 1]])]:
            ins = [mk(f"cat{d}_{j}", s, j + d) for j, s in enumerate(shapes)]
            r.case(f"cat_{d}_{dt}", "cat", ins, torch.cat([r.v(n) for n in ins], d), dim=d)
        ins = [mk(f"stack_{j}", [3, 4], j) for j in range(3)]
        for d in [0, 1, 2, -1]:
            r.case(f"stack_{d}_{dt}", "stack", ins, torch.stack([r.v(n) for n in ins], d), dim=d)
        x = mk("split_x", [7, 6], 1)
        X = r.v(x)
        for d, size in [(0, 3), (1, 4), (0, 7), (1, 1)]:
            r.case(f"split_{d}_{size}_{dt}", "split", [x], list(torch.split(X, size, d)), dim=d, size=size)
        for d, sizes in [(0, [2, 0, 5]), (1, [1, 2, 3])]:
            r.case(f"split_sizes_{d}_{dt}", "split_sizes", [x], list(torch.split(X, sizes, d)), dim=d, sizes=sizes)
        for d, n in [(0, 3), (1, 4), (0, 7), (1, 2), (0, 10)]:
            r.case(f"chunk_{d}_{n}_{dt}", "chunk", [x], list(torch.chunk(X, n, d)), dim=d, chunks=n)
    r.write()


# ---------------------------------------------------------------- dtype conversions

def casts():
    r = Ref("casts.json")
    e = 2.0 ** -10  # float16 epsilon
    tricky = [0.0, -0.0, 1.0, -1.0, 1 + e / 2, 1 + 3 * e / 2, 1 + e / 2 + 2 ** -20, 1 - e / 4, 2048 + 1, 2048 + 3,
              65504.0, 65519.0, 65520.0, 65536.0, 1e6, -70000.0,
              2.0 ** -14, 2.0 ** -14 - 2.0 ** -25, 2.0 ** -24, 2.0 ** -25, 3 * 2.0 ** -25, 2.0 ** -26, 5 * 2.0 ** -26,
              1e-8, -1e-8, 1 / 3, math.pi, -math.e, 0.1, 1e10, 3.0e38, 3.3961776e38, 3.4028235e38, 1.0e-40,
              1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, 1 + 2.0 ** -8 + 2.0 ** -20, 255.5, 256.5, INF, -INF]
    # a sweep over many binades: (1 + j/64 + tiny) * 2^k hits ties and near-ties of both 16-bit formats
    sweep = []
    for k in range(-28, 20):
        for j in range(0, 64, 3):
            sweep.append((1 + j / 64 + (j % 5) * 2.0 ** -12) * 2.0 ** k * (-1 if j % 2 else 1))
    x = r.t("f32", torch.tensor(tricky + sweep, dtype=torch.float32))
    X = r.v(x)
    for dt in ["float16", "bfloat16", "float64"]:
        r.case(f"float32_to_{dt}", "to", [x], X.to(DTYPES[dt]), dtype=dt)
    xd = r.t("f64", torch.tensor(tricky + [1 + 2.0 ** -24 + 2.0 ** -40, 1 + 2.0 ** -11 + 2.0 ** -40, 0.1, 1e300, -1e-300],
                                 dtype=torch.float64))
    for dt in ["float32", "float16", "bfloat16"]:
        r.case(f"float64_to_{dt}", "to", [xd], r.v(xd).to(DTYPES[dt]), dtype=dt)
    h = r.t("f16", torch.tensor(tricky[:30], dtype=torch.float32).half())
    bf = r.t("bf16", torch.tensor(tricky, dtype=torch.float32).bfloat16())
    for src in [h, bf]:
        for dt in ["float32", "float64", "bfloat16" if src == h else "float16"]:
            r.case(f"{src}_to_{dt}", "to", [src], r.v(src).to(DTYPES[dt]), dtype=dt)
    # float -> integer truncates toward zero (values in range of the target)
    fi = r.t("f32_int", torch.tensor([0.0, 0.4, 0.6, 1.5, -0.4, -0.6, -1.5, 99.9, -99.9, 127.0, 126.99, 2.5e9, -2.5e9]))
    i8 = r.t("f32_int8", torch.tensor([0.0, 0.4, 0.6, 1.5, -1.5, 99.9, -99.9, 127.0, 126.99, -128.0, -127.9]))
    u8 = r.t("f32_uint8", torch.tensor([0.0, 0.4, 0.6, 1.5, 2.5, 99.9, 127.0, 128.5, 254.9, 255.0]))
    r.case("float32_to_int64", "to", [fi], r.v(fi).to(torch.int64), dtype="int64")
    r.case("float32_to_int8", "to", [i8], r.v(i8).to(torch.int8), dtype="int8")
    r.case("float32_to_uint8", "to", [u8], r.v(u8).to(torch.uint8), dtype="uint8")
    fi32 = r.t("f32_int32", torch.tensor([0.0, 0.4, -0.6, 1.5, -1.5, 99.9, -99.9, 2.0e9, -2.0e9]))
    r.case("float32_to_int32", "to", [fi32], r.v(fi32).to(torch.int32), dtype="int32")
    r.case("float32_to_bool", "to", [fi], r.v(fi).to(torch.bool), dtype="bool")
    li = r.t("i64", torch.tensor([0, 1, -1, 2 ** 24 + 1, 2 ** 24 + 3, 65519, 65520, 2 ** 53 + 1, -(2 ** 62) - 1, 2 ** 24 + 2 ** 16 + 1]))
    for dt in ["float32", "float64", "float16", "bfloat16"]:
        r.case(f"int64_to_{dt}", "to", [li], r.v(li).to(DTYPES[dt]), dtype=dt)
    ii = r.t("i64_small", torch.tensor([0, 1, -1, 127, -128, 255, 300, -300, 2 ** 31 - 1, 2 ** 31, -(2 ** 31) - 1]))
    for dt in ["int32", "int8", "uint8", "bool"]:
        r.case(f"int64_to_{dt}", "to", [ii], r.v(ii).to(DTYPES[dt]), dtype=dt)   # wraps modulo 2^bits
    bo = r.t("bool", torch.tensor([True, False, True]))
    for dt in ["float32", "int64", "uint8", "bfloat16"]:
        r.case(f"bool_to_{dt}", "to", [bo], r.v(bo).to(DTYPES[dt]), dtype=dt)
    r.write()


# ---------------------------------------------------------------- creation

def creation():
    r = Ref("creation.json")
    for start, end, step in [(0, 1, 0.1), (-3, 3, 0.7), (1, 0, -0.125), (0.5, 10, 1)]:
        r.case(f"arange_{start}_{end}_{step}", "arange", [], torch.arange(start, end, step, dtype=torch.float32),
               start=start, end=end, step=step, dtype="float32")
    r.case("arange_int", "arange", [], torch.arange(-4, 11, 3), start=-4, end=11, step=3, dtype=None)
    for start, end, steps in [(-1, 1, 7), (0, 1, 10), (3, -2, 5), (0, 1, 1), (2, 2, 4), (-10, 10, 101)]:
        for dt in FLOATS:
            r.case(f"linspace_{start}_{end}_{steps}_{dt}", "linspace", [],
                   torch.linspace(start, end, steps, dtype=DTYPES[dt]), start=start, end=end, steps=steps, dtype=dt)
    for n, m in [(3, 3), (2, 4), (4, 1)]:
        r.case(f"eye_{n}_{m}", "eye", [], torch.eye(n, m), n=n, m=m, dtype="float32")
    r.write()


if __name__ == "__main__":
    torch.set_num_threads(1)
    elementwise()
    reductions()
    linalg()
    indexing()
    joins()
    casts()
    creation()
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print(f"total {total} bytes in {os.path.relpath(OUT)}")
