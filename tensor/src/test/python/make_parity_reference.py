#!/usr/bin/env python3
"""PyTorch reference values for the parity ops (read by ParityReferenceTest): log1p ... fmod, max/min over
a dim with indices, var/std with a correction, cumsum/cumprod/prod, sort/argsort/topk, flip/roll/repeat/
tile/pad/unbind/movedim/diagonal, einsum, masked_select, advanced indexing, index_put, scatter, nonzero,
unique. Same file format and inputs helpers as make_reference.py.

Regenerate from the repository root with Debian's python3-torch (not the pyenv python3 on PATH):

    /usr/bin/python3 tensor/src/test/python/make_parity_reference.py
"""
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import Ref, wave, ints  # noqa: E402

FLOATS = [torch.float32, torch.float64]
NAME = {torch.float32: "f32", torch.float64: "f64"}


def elementwise(r):
    halves = torch.tensor([-2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 0.49999997, -3.7, 3.7, 1e-8, -0.0, 7.0])
    for dt in FLOATS:
        n = NAME[dt]
        x = r.t(f"x_{n}", wave([3, 4], 1, -3, 3, dt))
        pos = r.t(f"pos_{n}", wave([3, 4], 2, 0.1, 3, dt))
        small = r.t(f"small_{n}", wave([3, 4], 3, -1e-4, 1e-4, dt))
        h = r.t(f"halves_{n}", halves.to(dt))
        y = r.t(f"y_{n}", wave([4], 4, -2, 2, dt))
        xv, pv, sv, hv, yv = r.v(x), r.v(pos), r.v(small), r.v(h), r.v(y)
        for name, fn in [("log1p", torch.log1p), ("expm1", torch.expm1), ("erf", torch.erf), ("tan", torch.tan),
                         ("atan", torch.atan), ("square", torch.square), ("reciprocal", torch.reciprocal)]:
            r.case(f"{name}_{n}", name, [x], fn(xv))
        r.case(f"log1p_small_{n}", "log1p", [small], torch.log1p(sv))
        r.case(f"expm1_small_{n}", "expm1", [small], torch.expm1(sv))
        for name, fn in [("floor", torch.floor), ("ceil", torch.ceil), ("round", torch.round), ("trunc", torch.trunc)]:
            r.case(f"{name}_{n}", name, [h], fn(hv))
            r.case(f"{name}_wave_{n}", name, [x], fn(xv))
        r.case(f"softplus_{n}", "softplus", [x], F.softplus(xv), beta=1, threshold=20)
        r.case(f"softplus_beta_{n}", "softplus", [x], F.softplus(xv, beta=4, threshold=6), beta=4, threshold=6)
        r.case(f"leaky_relu_{n}", "leaky_relu", [x], F.leaky_relu(xv, 0.1), slope=0.1)
        r.case(f"elu_{n}", "elu", [x], F.elu(xv, 1.5), alpha=1.5)
        r.case(f"hardtanh_{n}", "hardtanh", [x], F.hardtanh(xv, -1.0, 2.0), min=-1.0, max=2.0)
        r.case(f"atan2_{n}", "atan2", [x, y], torch.atan2(xv, yv))
        r.case(f"fmod_{n}", "fmod", [x, y], torch.fmod(xv, yv))
        r.case(f"fmod_scalar_{n}", "fmod_scalar", [x], torch.fmod(xv, -1.25), value=-1.25)
        r.case(f"rdiv_{n}", "rdiv", [pos], 3.0 / pv, value=3.0)
        r.case(f"rpow_{n}", "rpow", [x], torch.pow(2.5, xv), value=2.5)
    xi = r.t("xi", ints([3, 4], 1, -9, 9))
    yi = r.t("yi", torch.tensor([4, -3, 5, 7]))
    r.case("fmod_int64", "fmod", [xi, yi], torch.fmod(r.v(xi), r.v(yi)))
    r.case("floor_int64", "floor", [xi], torch.floor(r.v(xi)))


def reductions(r):
    nan_ties = torch.tensor([[1.0, 5.0, 5.0, 2.0], [3.0, float("nan"), 9.0, float("nan")], [-1.0, -4.0, -4.0, 0.0]])
    for dt in FLOATS:
        n = NAME[dt]
        x = r.t(f"r_{n}", wave([3, 4, 5], 5, -2, 2, dt))
        nt = r.t(f"nan_ties_{n}", nan_ties.to(dt))
        xv = r.v(x)
        for dim in [0, 1, -1]:
            for keep in [False, True]:
                m = torch.max(xv, dim, keepdim=keep)
                r.case(f"max_dim{dim}_{keep}_{n}", "max_dim", [x], [m.values, m.indices], dim=dim, keepdim=keep)
                m = torch.min(xv, dim, keepdim=keep)
                r.case(f"min_dim{dim}_{keep}_{n}", "min_dim", [x], [m.values, m.indices], dim=dim, keepdim=keep)
        m = torch.max(r.v(nt), 1)
        r.case(f"max_dim_nan_ties_{n}", "max_dim", [nt], [m.values, m.indices], dim=1, keepdim=False)
        m = torch.min(r.v(nt), 1)
        r.case(f"min_dim_nan_ties_{n}", "min_dim", [nt], [m.values, m.indices], dim=1, keepdim=False)
        for c in [0, 1, 2]:
            for dims in [[1], [0, 2]]:
                r.case(f"var_c{c}_{dims}_{n}", "var", [x], torch.var(xv, dims, correction=c, keepdim=True), dims=dims, keepdim=True, correction=c)
                r.case(f"std_c{c}_{dims}_{n}", "std", [x], torch.std(xv, dims, correction=c), dims=dims, keepdim=False, correction=c)
        for dim in [0, 1, 2]:
            r.case(f"cumsum_{dim}_{n}", "cumsum", [x], torch.cumsum(xv, dim), dim=dim)
            r.case(f"cumprod_{dim}_{n}", "cumprod", [x], torch.cumprod(xv, dim), dim=dim)
            r.case(f"prod_{dim}_{n}", "prod", [x], torch.prod(xv, dim), dim=dim, keepdim=False)
        r.case(f"prod_keep_{n}", "prod", [x], torch.prod(xv, 1, keepdim=True), dim=1, keepdim=True)
        r.case(f"prod_all_{n}", "prod", [nt], torch.prod(r.v(nt)), dim=None, keepdim=False)
    xi = r.t("ri", ints([3, 4], 2, -3, 4, torch.int32))
    r.case("cumsum_int32", "cumsum", [xi], torch.cumsum(r.v(xi), 1), dim=1)
    r.case("cumprod_int32", "cumprod", [xi], torch.cumprod(r.v(xi), 0), dim=0)
    r.case("prod_int32", "prod", [xi], torch.prod(r.v(xi), 1), dim=1, keepdim=False)


def sorting(r):
    ties = torch.tensor([[3.0, 1.0, 3.0, float("nan"), 2.0, 1.0], [0.5, -1.0, 4.0, 4.0, 4.0, -2.0]])
    for dt in FLOATS:
        n = NAME[dt]
        x = r.t(f"s_{n}", wave([4, 5], 6, -2, 2, dt))
        t = r.t(f"ties_{n}", ties.to(dt))
        xv = r.v(x)
        for dim in [0, 1]:
            for desc in [False, True]:
                s = torch.sort(xv, dim, descending=desc)
                r.case(f"sort_{dim}_{desc}_{n}", "sort", [x], [s.values, s.indices], dim=dim, descending=desc)
                r.case(f"argsort_{dim}_{desc}_{n}", "argsort", [x], torch.argsort(xv, dim, descending=desc), dim=dim, descending=desc)
        for desc in [False, True]:
            s = torch.sort(r.v(t), stable=True, dim=1, descending=desc)
            r.case(f"sort_ties_{desc}_{n}", "sort", [t], [s.values, s.indices], dim=1, descending=desc)
        for k, dim, largest in [(2, 1, True), (3, 0, False), (5, 1, True), (0, 1, True)]:
            s = torch.topk(xv, k, dim, largest=largest)
            r.case(f"topk_{k}_{dim}_{largest}_{n}", "topk", [x], [s.values, s.indices], k=k, dim=dim, largest=largest)
    u = r.t("u_int", torch.tensor([[3, 1, 2], [1, 7, 3]]))
    v = r.t("u_f32", torch.tensor([2.5, -1.0, 2.5, 0.0, -1.0, 9.0]))
    for name in [u, v]:
        vals, inv, cnt = torch.unique(r.v(name), sorted=True, return_inverse=True, return_counts=True)
        r.case(f"unique_{name}", "unique", [name], [vals, inv, cnt])


def rearrange(r):
    x = r.t("a", wave([2, 3, 4], 7, -2, 2, torch.float32))
    xv = r.v(x)
    r.case("flip_0", "flip", [x], torch.flip(xv, [0]), dims=[0])
    r.case("flip_1_2", "flip", [x], torch.flip(xv, [1, -1]), dims=[1, -1])
    r.case("roll_1", "roll", [x], torch.roll(xv, 2, 2), shifts=[2], dims=[2])
    r.case("roll_neg", "roll", [x], torch.roll(xv, (-1, 5), (1, 2)), shifts=[-1, 5], dims=[1, 2])
    r.case("roll_flat", "roll", [x], torch.roll(xv, 7), shifts=[7], dims=[])
    r.case("repeat", "repeat", [x], xv.repeat(2, 1, 3), reps=[2, 1, 3])
    r.case("repeat_more", "repeat", [x], xv.repeat(2, 1, 1, 2), reps=[2, 1, 1, 2])
    r.case("tile", "tile", [x], torch.tile(xv, (2, 2)), reps=[2, 2])
    for mode in ["constant", "reflect", "replicate", "circular"]:
        pads = [(1, 2), (2, 1, 1, 2)] if mode != "constant" else [(1, 2), (2, 1, 0, 3), (1, 1, 1, 1, 1, 1), (-1, 2, 1, -1)]
        for p in pads:
            if mode == "constant":
                out = F.pad(xv, p, mode="constant", value=0.5)
            else:
                # PyTorch pads len(p)/2 trailing dims of an (N, C, ...) input: a leading 1 makes room for 2 dims
                out = F.pad(xv.unsqueeze(0), p, mode=mode).squeeze(0) if len(p) == 4 else F.pad(xv, p, mode=mode)
            r.case(f"pad_{mode}_{'_'.join(map(str, p))}", "pad", [x], out, pad=list(p), mode=mode, value=0.5 if mode == "constant" else 0)
    for dim in [0, 1, -1]:
        r.case(f"unbind_{dim}", "unbind", [x], list(torch.unbind(xv, dim)), dim=dim)
    r.case("movedim", "movedim", [x], torch.movedim(xv, 0, -1), source=[0], destination=[-1])
    r.case("movedim_2", "movedim", [x], torch.movedim(xv, (0, 2), (1, 0)), source=[0, 2], destination=[1, 0])
    for off, d1, d2 in [(0, 1, 2), (1, 1, 2), (-1, 1, 2), (0, 0, 2), (2, 2, 1), (-5, 1, 2)]:
        r.case(f"diagonal_{off}_{d1}_{d2}", "diagonal", [x], torch.diagonal(xv, off, d1, d2), offset=off, dim1=d1, dim2=d2)


def einsum(r):
    g = 8
    def w(shape):
        nonlocal g
        g += 1
        return r.t(f"e{g}", wave(shape, g, -1, 1, torch.float32))
    q, k, v = w([2, 3, 4, 5]), w([2, 3, 6, 5]), w([2, 3, 6, 5])
    p = w([2, 3, 4, 6])
    a, wb, b = w([4, 3]), w([5, 3, 6]), w([4, 6])
    m, m2, sq = w([3, 4]), w([4, 2]), w([4, 4])
    bm1, bm2 = w([5, 3, 4]), w([5, 4, 2])
    vec = w([4])
    cases = [("bhqd,bhkd->bhqk", [q, k]), ("bhqk,bhkd->bhqd", [p, v]), ("bi,oij,bj->bo", [a, wb, b]),
             ("ij,jk->ik", [m, m2]), ("ij->ji", [m]), ("bij,bjk->bik", [bm1, bm2]), ("ii->", [sq]), ("ii->i", [sq]),
             ("ij->", [m]), ("ij->j", [m]), ("i,i->", [vec, vec]), ("i,j->ij", [vec, vec]), ("ij,jk", [m, m2]),
             ("...ij,...jk->...ik", [bm1, bm2]), ("bij->b...", [bm1]), ("ba,bc", [m, m])]
    for i, (eq, ops) in enumerate(cases):
        r.case(f"einsum_{i}_{eq}", "einsum", ops, torch.einsum(eq, *[r.v(o) for o in ops]), equation=eq)


def masks(r):
    x = r.t("m_x", wave([3, 4, 2], 20, -2, 2, torch.float32))
    xv = r.v(x)
    mask2 = r.t("m_mask2", wave([3, 4], 21, -1, 1) > 0)
    mask3 = r.t("m_mask3", wave([4, 2], 22, -1, 1) > 0)
    mask1 = r.t("m_mask1", torch.tensor([True, False, True]))
    r.case("masked_select", "masked_select", [x, mask3], torch.masked_select(xv, r.v(mask3)))
    r.case("index_mask2", "index", [x, mask2], xv[r.v(mask2)])
    r.case("index_mask1", "index", [x, mask1], xv[r.v(mask1)])
    uniq0 = r.t("m_u0", torch.tensor([0, 2, 1]))
    i0 = r.t("m_i0", torch.tensor([[2, 0], [1, -1]]))
    i1 = r.t("m_i1", torch.tensor([3, 0]))
    r.case("index_ints", "index", [x, i0, i1], xv[r.v(i0), r.v(i1)])
    r.case("index_ints_one", "index", [x, uniq0], xv[r.v(uniq0)])
    vals = r.t("m_vals", wave([2], 23, 5, 6, torch.float32))
    r.case("index_put_mask", "index_put", [x, mask2, vals], xv.index_put((r.v(mask2),), r.v(vals)), accumulate=False)
    dup0 = r.t("m_dup0", torch.tensor([0, 2, 0, 1]))
    dup1 = r.t("m_dup1", torch.tensor([1, 3, 1, 0]))
    rows = r.t("m_rows", wave([4, 2], 24, 5, 6, torch.float32))
    r.case("index_put_accumulate", "index_put", [x, dup0, dup1, rows],
           xv.index_put((r.v(dup0), r.v(dup1)), r.v(rows), accumulate=True), accumulate=True)
    r.case("index_put_rows", "index_put", [x, uniq0, vals], xv.index_put((r.v(uniq0),), r.v(vals)), accumulate=False)
    s = r.t("m_s", wave([3, 5], 25, -1, 1, torch.float32))
    idx = r.t("m_idx", torch.tensor([[1, 0, 2, 0], [2, 1, 0, 1]]))
    src = r.t("m_src", wave([2, 5], 26, 5, 6, torch.float32))
    r.case("scatter_0", "scatter", [s, idx, src], torch.scatter(r.v(s), 0, r.v(idx), r.v(src)), dim=0)
    idx1 = r.t("m_idx1", torch.tensor([[4, 0], [3, 3], [1, 2]]))
    src1 = r.t("m_src1", wave([3, 3], 27, 5, 6, torch.float32))
    r.case("scatter_1", "scatter", [s, idx1, src1], torch.scatter(r.v(s), 1, r.v(idx1), r.v(src1)), dim=1)
    r.case("scatter_value", "scatter_value", [s, idx1], torch.scatter(r.v(s), 1, r.v(idx1), -7.0), dim=1, value=-7.0)
    nz = r.t("m_nz", torch.tensor([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]]))
    r.case("nonzero", "nonzero", [nz], torch.nonzero(r.v(nz)))
    r.case("nonzero_bool", "nonzero", [mask2], torch.nonzero(r.v(mask2)))


if __name__ == "__main__":
    torch.set_num_threads(1)
    r = Ref("parity.json")
    elementwise(r)
    reductions(r)
    sorting(r)
    rearrange(r)
    einsum(r)
    masks(r)
    r.write()
