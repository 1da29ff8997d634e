#!/usr/bin/env python3
"""Fluxion's TCP all-reduce against PyTorch's Gloo on this machine, interleaved so both see the same load.

    mvn -B -q -DskipTests package
    /usr/bin/python3 bench/python/compare_allreduce.py --ranks 2,4 --repeats 3

Runs bench/python/allreduce_gloo.py and dev.fluxion.parallel.bench.AllReduceBenchmark (under bin/fluxrun)
alternately, `repeats` times per world size, and prints the median bus bandwidth of each with their ratio.
"""
import argparse
import os
import re
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
ROW = re.compile(r"^(?:\[rank 0\])?\s*(\d+) MiB\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)\s*$")


def busbw(cmd):
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")
    rows = {}
    for line in out.stdout.splitlines():
        m = ROW.match(line.strip())
        if m:
            rows[int(m.group(1))] = float(m.group(4))
    return rows


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--ranks", default="2,4")
    p.add_argument("--sizes-mib", default="1,16,64")
    p.add_argument("--iters", default="10")
    p.add_argument("--repeats", type=int, default=3)
    a = p.parse_args()
    print(f"load before: {open('/proc/loadavg').read().split()[:3]} on {os.cpu_count()} cores")
    print(f"{'ranks':>5} {'size':>8} {'gloo busbw':>11} {'fluxion busbw':>14} {'ratio':>6}   (GB/s, median of {a.repeats} interleaved runs)")
    for n in [int(x) for x in a.ranks.split(",")]:
        gloo, flux = {}, {}
        for _ in range(a.repeats):
            for size, v in busbw([sys.executable, "bench/python/allreduce_gloo.py", "--nproc", str(n), "--sizes-mib", a.sizes_mib, "--iters", a.iters]).items():
                gloo.setdefault(size, []).append(v)
            for size, v in busbw(["bin/fluxrun", "--nproc-per-node", str(n), "dev.fluxion.parallel.bench.AllReduceBenchmark", "--sizes-mib", a.sizes_mib,
                                  "--iters", a.iters]).items():
                flux.setdefault(size, []).append(v)
        for size in sorted(gloo):
            g, f = statistics.median(gloo[size]), statistics.median(flux[size])
            print(f"{n:>5} {size:>4} MiB {g:>11.2f} {f:>14.2f} {f / g:>6.2f}")
    print(f"load after: {open('/proc/loadavg').read().split()[:3]}")


if __name__ == "__main__":
    main()
