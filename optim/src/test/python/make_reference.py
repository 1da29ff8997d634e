#!/usr/bin/env python3
"""Reference trajectories for fluxion-optim, computed by PyTorch's optimizers (single-tensor path).

Regenerate (Debian's python3-torch; the pyenv python3 on PATH has no torch):
    /usr/bin/python3 optim/src/test/python/make_reference.py

Writes, under optim/src/test/resources/reference/:
  problem.json         the fixed float32 problem: inputs X, Y and the initial parameters W, b, c.
  <case>.json          one optimizer configuration: its param groups and hyperparameters, optional schedule
                       and clipping, then for each of 20 steps the lr of each group, the loss and the
                       parameters after the step; finally PyTorch's optimizer state after step 20.
  schedules.json       StepLR and a linear warm-up + cosine decay (LambdaLR) lr sequences.
  clip.json            torch.nn.utils.clip_grad_norm_ (norm 2) on fixed gradients: total norm and clipped grads.

The loss (mirrored in Reference.loss on the Java side):
    L(W, b, c) = sum((X W^T + b - Y)^2) / 8 + sum(exp(c / 2))
"""
import json
import math
import os

import torch

OUT = os.path.join(os.path.dirname(__file__), "..", "resources", "reference")
STEPS = 20

torch.manual_seed(20240611)
X = torch.randn(8, 3)
Y = torch.randn(8, 4) + 2.0          # an offset keeps the residuals (and gradients) away from zero for 20 steps
W0 = torch.randn(4, 3) * 0.5
B0 = torch.randn(4) * 0.1
C0 = torch.randn(6)
NAMES = ["W", "b", "c"]


def t(x):
    return {"shape": list(x.shape), "data": [float(v) for v in x.detach().reshape(-1).tolist()]}


def loss_fn(p):
    r = X @ p["W"].t() + p["b"] - Y
    return (r * r).sum() / 8 + torch.exp(p["c"] / 2).sum()


def fresh_params():
    return {"W": W0.clone().requires_grad_(), "b": B0.clone().requires_grad_(), "c": C0.clone().requires_grad_()}


# PyTorch's group keys that are not hyperparameters of the update (or are always at their default here).
NON_HYPER = {"params", "foreach", "maximize", "differentiable", "capturable", "fused", "initial_lr"}


def hyper(group):
    h = {}
    for k, v in group.items():
        if k in NON_HYPER:
            continue
        if k == "betas":
            h["beta1"], h["beta2"] = float(v[0]), float(v[1])
        elif isinstance(v, bool):
            h[k] = v
        else:
            h[k] = float(v)
    return h


def run_case(name, make_opt, groups, schedule=None, clip=None):
    """groups: list of (param names, overrides); make_opt(param_groups) builds the optimizer."""
    p = fresh_params()
    opt = make_opt([dict(params=[p[n] for n in names], **over) for names, over in groups])
    for g in opt.param_groups:
        assert g.get("foreach") in (None, False) and not g.get("maximize", False)
    record = {
        "name": name,
        "optimizer": type(opt).__name__,
        "groups": [{"params": names, "hyper": hyper(g)} for (names, _), g in zip(groups, opt.param_groups)],
        "schedule": None,
        "clip_max_norm": clip,
        "steps": [],
    }
    sched = None
    if schedule is not None:
        record["schedule"] = schedule
        sched = make_schedule(opt, schedule)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = loss_fn(p)
        loss.backward()
        if clip is not None:
            torch.nn.utils.clip_grad_norm_([p[n] for n in NAMES], clip)
        lrs = [g["lr"] for g in opt.param_groups]
        opt.step()
        if sched is not None:
            sched.step()
        record["steps"].append({"lr": lrs, "loss": float(loss), "params": {n: t(p[n]) for n in NAMES}})
    # PyTorch numbers parameters across groups in order; "step" is a float tensor there, an integer here.
    sd = opt.state_dict()["state"]
    record["state"] = {str(i): {k: (int(v) if k == "step" else t(v)) for k, v in s.items() if v is not None}
                       for i, s in sd.items()}
    write(name + ".json", record)


def warmup_cosine(step, base, warmup, total, min_lr):
    """The lr used by optimizer step `step` (0-based): linear warm-up to base, cosine decay to min_lr."""
    if step < warmup:
        return base * (step + 1) / warmup
    if step >= total:
        return min_lr
    progress = (step - warmup) / (total - warmup)
    return min_lr + (base - min_lr) * 0.5 * (1 + math.cos(math.pi * progress))


def make_schedule(opt, s):
    if s["kind"] == "step":
        return torch.optim.lr_scheduler.StepLR(opt, step_size=s["step_size"], gamma=s["gamma"])
    if s["kind"] == "warmup_cosine":
        lambdas = [lambda k, base=g["lr"]: warmup_cosine(k, base, s["warmup_steps"], s["total_steps"], s["min_lr"]) / base
                   for g in opt.param_groups]
        return torch.optim.lr_scheduler.LambdaLR(opt, lambdas)
    raise ValueError(s["kind"])


def schedules():
    out = {}
    for name, s in [("step", {"kind": "step", "step_size": 3, "gamma": 0.5}),
                    ("warmup_cosine", {"kind": "warmup_cosine", "warmup_steps": 5, "total_steps": 20, "min_lr": 0.001})]:
        w = torch.zeros(1, requires_grad=True)
        opt = torch.optim.SGD([{"params": [w], "lr": 0.1}, {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.02}], lr=0.1)
        sched = make_schedule(opt, s)
        lrs = []
        for _ in range(30):
            lrs.append([g["lr"] for g in opt.param_groups])   # the lr optimizer step k uses
            opt.step()
            sched.step()
        out[name] = {"schedule": s, "base_lrs": [0.1, 0.02], "lrs": lrs}
    write("schedules.json", out)


def clipping():
    g = torch.Generator().manual_seed(7)
    grads = [torch.randn(4, 3, generator=g), torch.randn(4, generator=g) * 3, torch.randn(6, generator=g)]
    out = {"grads": [t(x) for x in grads], "cases": []}
    for max_norm in [1.0, 0.25, 100.0]:
        ps = [torch.zeros_like(x, requires_grad=True) for x in grads]
        for p, x in zip(ps, grads):
            p.grad = x.clone()
        total = torch.nn.utils.clip_grad_norm_(ps, max_norm)
        out["cases"].append({"max_norm": max_norm, "total_norm": float(total), "clipped": [t(p.grad) for p in ps]})
    write("clip.json", out)


def write(name, obj):
    obj = dict(obj, torch_version=torch.__version__)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(obj, f)
        f.write("\n")


def main():
    os.makedirs(OUT, exist_ok=True)
    write("problem.json", {"X": t(X), "Y": t(Y), "params": {"W": t(W0), "b": t(B0), "c": t(C0)}, "steps": STEPS})
    SGD, Adagrad, RMSprop, Adam, AdamW = (torch.optim.SGD, torch.optim.Adagrad, torch.optim.RMSprop,
                                          torch.optim.Adam, torch.optim.AdamW)
    every = [(NAMES, {})]
    sgd = lambda **kw: (lambda gs: SGD(gs, foreach=False, **kw))
    run_case("sgd_plain", sgd(lr=0.05), every)
    run_case("sgd_momentum", sgd(lr=0.05, momentum=0.9), every)
    run_case("sgd_nesterov", sgd(lr=0.05, momentum=0.9, nesterov=True), every)
    run_case("sgd_dampening_weight_decay", sgd(lr=0.05, momentum=0.9, dampening=0.3, weight_decay=0.01), every)
    run_case("sgd_groups_step_lr", sgd(lr=0.05, momentum=0.9),
             [(["W", "b"], {}), (["c"], {"lr": 0.02, "momentum": 0.5, "weight_decay": 0.1})],
             schedule={"kind": "step", "step_size": 5, "gamma": 0.5})

    adagrad = lambda **kw: (lambda gs: Adagrad(gs, foreach=False, **kw))
    run_case("adagrad_plain", adagrad(lr=0.1), every)
    # a large eps in some cases makes where eps enters the formula visible above the tolerance
    run_case("adagrad_lr_decay", adagrad(lr=0.1, lr_decay=0.01, initial_accumulator_value=0.1, weight_decay=0.01, eps=1e-3), every)

    rmsprop = lambda **kw: (lambda gs: RMSprop(gs, foreach=False, **kw))
    run_case("rmsprop_plain", rmsprop(lr=0.01), every)
    run_case("rmsprop_centered", rmsprop(lr=0.01, centered=True), every)
    run_case("rmsprop_momentum", rmsprop(lr=0.01, alpha=0.9, momentum=0.9, weight_decay=0.01), every)
    run_case("rmsprop_centered_momentum", rmsprop(lr=0.005, momentum=0.5, centered=True, eps=1e-3), every)

    adam = lambda **kw: (lambda gs: Adam(gs, foreach=False, **kw))
    run_case("adam_plain", adam(lr=0.01), every)
    # lr and beta2 chosen so that max_exp_avg_sq leaves exp_avg_sq behind for most elements within 20 steps
    run_case("adam_amsgrad", adam(lr=0.05, betas=(0.8, 0.95), amsgrad=True), every)
    run_case("adam_weight_decay_eps", adam(lr=0.01, weight_decay=0.1, eps=1e-3), every)
    run_case("adam_groups_warmup_cosine", adam(lr=0.02),
             [(["W"], {}), (["b", "c"], {"lr": 0.01, "weight_decay": 0.05})],
             schedule={"kind": "warmup_cosine", "warmup_steps": 5, "total_steps": 15, "min_lr": 0.001})

    adamw = lambda **kw: (lambda gs: AdamW(gs, foreach=False, **kw))
    run_case("adamw_plain", adamw(lr=0.01), every)
    run_case("adamw_amsgrad", adamw(lr=0.05, betas=(0.9, 0.9), weight_decay=0.1, amsgrad=True), every)
    run_case("adamw_clip", adamw(lr=0.01), every, clip=1.0)

    schedules()
    clipping()


if __name__ == "__main__":
    main()
