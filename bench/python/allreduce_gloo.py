#!/usr/bin/env python3
"""All-reduce bandwidth of PyTorch's Gloo backend on 127.0.0.1, measured as AllReduceBenchmark measures Fluxion's.

    /usr/bin/python3 bench/python/allreduce_gloo.py --nproc 4 --sizes-mib 1,16,64 --iters 10

Each timed iteration is one float32 all-reduce (sum) between two barriers; an iteration's time is the slowest
rank's; a size's figure is the median. Bus bandwidth = 2(n-1)/n * bytes / time (nccl-tests' definition).
"""
import argparse
import os
import socket
import time

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(rank, n, port, sizes, iters, warmup):
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=n)
    if rank == 0:
        print(f"pytorch {torch.__version__} gloo all-reduce, float32 sum, {n} ranks, median of {iters}")
        print(f"{'size':>10} {'time (ms)':>12} {'algbw GB/s':>12} {'busbw GB/s':>12}")
    for mib in sizes:
        count = mib * (1 << 20) // 4
        t = torch.ones(count, dtype=torch.float32)
        slowest = torch.zeros(1, dtype=torch.float64)
        times = []
        for it in range(-warmup, iters):
            dist.barrier()
            t0 = time.perf_counter()
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
            slowest.fill_(time.perf_counter() - t0)
            dist.all_reduce(slowest, op=dist.ReduceOp.MAX)
            if it >= 0:
                times.append(slowest.item())
        times.sort()
        med = times[iters // 2]
        nbytes = count * 4
        if rank == 0:
            print(f"{mib:>6} MiB {med * 1e3:>12.2f} {nbytes / med / 1e9:>12.2f} {2 * (n - 1) / n * nbytes / med / 1e9:>12.2f}", flush=True)
    dist.destroy_process_group()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--nproc", type=int, default=2)
    p.add_argument("--sizes-mib", default="1,16,64")
    p.add_argument("--iters", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    a = p.parse_args()
    sizes = [int(s) for s in a.sizes_mib.split(",")]
    mp.spawn(run, args=(a.nproc, free_port(), sizes, a.iters, a.warmup), nprocs=a.nproc, join=True)


if __name__ == "__main__":
    main()
