"""
PyTorch's lr sequences for the schedules in dev.fluxion.optim.Schedule and ReduceLROnPlateau.

Run with /usr/bin/python3 (python3-torch) from this folder; writes ../resources/reference/lr_schedules.json:
  {case: {"settings": {...}, "lrs": [[lr of group 0, lr of group 1] for each optimizer step]}}
Two SGD groups with lrs 0.1 and 0.02; "lrs"[k] is the lr optimizer step k uses (read before opt.step()).
For "plateau_*" cases, "metrics"[k] is passed to scheduler.step(metric) after step k.
OneCycleLR runs with cycle_momentum=False (Fluxion does not cycle momentum) and max_lr = each group's lr.
"""
import json
import math
import os

import torch
from torch.optim import lr_scheduler as L

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "reference")
STEPS = 40


def optimizer():
    return torch.optim.SGD([{"params": [torch.zeros(1, requires_grad=True)], "lr": 0.1},
                            {"params": [torch.zeros(1, requires_grad=True)], "lr": 0.02}], lr=0.1)


def lambda_factor(k):
    """The factor of the 'lambda' case; ScheduleReferenceTest has the same formula."""
    return (k + 1) / (k + 2) * 0.97 ** k


def run(make, steps=STEPS, metrics=None):
    opt = optimizer()
    sched = make(opt)
    lrs = []
    for k in range(steps):
        lrs.append([g["lr"] for g in opt.param_groups])
        opt.step()
        if k == steps - 1:
            break          # OneCycleLR refuses a step past total_steps
        if metrics is None:
            sched.step()
        else:
            sched.step(metrics[k])
    return lrs


def main():
    cases = {}

    def case(name, settings, make, steps=STEPS, metrics=None):
        cases[name] = {"settings": settings, "lrs": run(make, steps, metrics)}
        if metrics is not None:
            cases[name]["metrics"] = metrics

    case("lambda", {}, lambda o: L.LambdaLR(o, lambda_factor))
    case("multistep", {"milestones": [3, 7, 7, 12], "gamma": 0.5},
         lambda o: L.MultiStepLR(o, milestones=[3, 7, 7, 12], gamma=0.5))
    case("exponential", {"gamma": 0.9}, lambda o: L.ExponentialLR(o, gamma=0.9))
    case("linear", {"start_factor": 0.25, "end_factor": 0.75, "total_iters": 6},
         lambda o: L.LinearLR(o, start_factor=0.25, end_factor=0.75, total_iters=6))
    case("cosine", {"t_max": 10, "eta_min": 0.001}, lambda o: L.CosineAnnealingLR(o, T_max=10, eta_min=0.001))
    case("warm_restarts_mult1", {"t_0": 5, "t_mult": 1, "eta_min": 0.0},
         lambda o: L.CosineAnnealingWarmRestarts(o, T_0=5, T_mult=1, eta_min=0.0))
    case("warm_restarts_mult2", {"t_0": 3, "t_mult": 2, "eta_min": 0.001},
         lambda o: L.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2, eta_min=0.001))
    for name, total, kw in [("one_cycle_default", 30, {}),
                            ("one_cycle_short", 10, {}),
                            ("one_cycle_linear_three_phase", 40, {"pct_start": 0.25, "anneal_strategy": "linear",
                                                                 "div_factor": 10.0, "final_div_factor": 100.0,
                                                                 "three_phase": True}),
                            ("one_cycle_cos_three_phase", 25, {"three_phase": True})]:
        case(name, dict(kw, total_steps=total),
             lambda o, total=total, kw=kw: L.OneCycleLR(o, max_lr=[0.1, 0.02], total_steps=total, cycle_momentum=False, **kw),
             steps=total)   # the lr after the last step() is not compared: torch extrapolates it (linear: below 0)
    case("warmup_cosine_sequential", {"start_factor": 0.1, "warmup": 5, "t_max": 20, "eta_min": 0.001},
         lambda o: L.SequentialLR(o, [L.LinearLR(o, start_factor=0.1, total_iters=5),
                                      L.CosineAnnealingLR(o, T_max=20, eta_min=0.001)], milestones=[5]))
    case("warmup_exponential_sequential", {"warmup": 4, "gamma": 0.9},
         lambda o: L.SequentialLR(o, [L.LinearLR(o, total_iters=4), L.ExponentialLR(o, gamma=0.9)], milestones=[4]))

    # metric sequences: improve, stall, improve by less than the threshold, rise, NaN
    down = [1.0, 0.9, 0.8, 0.8, 0.8, 0.8, 0.79999, 0.7, 0.7, 0.7, 0.7, 0.7, 0.6, 0.65, 0.7, 0.7, 0.7, 0.7, 0.7, 0.7,
            0.5, 0.5, 0.5, 0.5, float("nan"), 0.5, 0.5, 0.5, 0.5, 0.5]
    up = [0.1, 0.2, 0.2, 0.25, 0.2, 0.2, 0.2, 0.3, 0.3, 0.3, 0.31, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.3, 0.4, 0.4,
          0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4]
    case("plateau_min_rel", {"mode": "min", "factor": 0.5, "patience": 2, "threshold": 1e-4, "threshold_mode": "rel",
                             "cooldown": 1, "min_lr": 0.0, "eps": 1e-8},
         lambda o: L.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=2, cooldown=1), steps=len(down), metrics=down)
    case("plateau_max_abs", {"mode": "max", "factor": 0.1, "patience": 1, "threshold": 0.05, "threshold_mode": "abs",
                             "cooldown": 0, "min_lr": 0.0005, "eps": 1e-8},
         lambda o: L.ReduceLROnPlateau(o, mode="max", factor=0.1, patience=1, threshold=0.05, threshold_mode="abs",
                                       min_lr=0.0005), steps=len(up), metrics=up)
    case("plateau_min_abs_eps", {"mode": "min", "factor": 0.5, "patience": 0, "threshold": 0.01, "threshold_mode": "abs",
                                 "cooldown": 2, "min_lr": 0.001, "eps": 0.003},
         lambda o: L.ReduceLROnPlateau(o, mode="min", factor=0.5, patience=0, threshold=0.01, threshold_mode="abs",
                                       cooldown=2, min_lr=0.001, eps=0.003), steps=len(down), metrics=down)
    case("plateau_max_rel", {"mode": "max", "factor": 0.2, "patience": 3, "threshold": 0.1, "threshold_mode": "rel",
                             "cooldown": 0, "min_lr": 0.0, "eps": 1e-8},
         lambda o: L.ReduceLROnPlateau(o, mode="max", factor=0.2, patience=3, threshold=0.1), steps=len(up), metrics=up)

    cases["torch_version"] = torch.__version__
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "lr_schedules.json"), "w") as f:
        json.dump(cases, f, allow_nan=True)   # NaN is written as the bare token NaN (Jackson reads it with ALLOW_NON_NUMERIC_NUMBERS)
        f.write("\n")


if __name__ == "__main__":
    main()
