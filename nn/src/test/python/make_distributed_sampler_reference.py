"""
torch.utils.data.DistributedSampler's index lists with shuffle=False (the padding and drop_last rules; the
shuffled order uses torch's generator, which Fluxion does not reproduce, so DistributedSamplerTest checks
shuffled lists by their properties instead).

Run with /usr/bin/python3 from this folder; writes ../resources/reference/distributed_sampler.txt, one line
per (size, replicas, drop_last, rank): "size replicas drop_last rank: i0 i1 ...".
"""
import os

import torch
from torch.utils.data import DistributedSampler

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "resources", "reference", "distributed_sampler.txt")

with open(OUT, "w") as f:
    f.write("# torch " + torch.__version__ + ": size replicas drop_last rank: indices (shuffle=False)\n")
    for size in [0, 1, 2, 5, 7, 10, 12, 13]:
        for replicas in [1, 2, 3, 4, 8]:
            for drop_last in [False, True]:
                for rank in range(replicas):
                    s = DistributedSampler(range(size), num_replicas=replicas, rank=rank, shuffle=False, drop_last=drop_last)
                    f.write(f"{size} {replicas} {int(drop_last)} {rank}: {' '.join(str(i) for i in s)}\n")
