package dev.fluxion.parallel.bench;

import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.Locale;

/**
 * All-reduce bandwidth of the TCP backend, as nccl-tests reports it: bus bandwidth = 2(n-1)/n * bytes / time.
 * Run it under the launcher; rank 0 prints one row per size. bench/python/allreduce_gloo.py measures PyTorch's
 * Gloo the same way, for a side-by-side figure on the same machine.
 *
 * <pre>
 *   bin/fluxrun --nproc-per-node 4 dev.fluxion.parallel.bench.AllReduceBenchmark --sizes-mib 1,16,64 --iters 10
 * </pre>
 * Each timed iteration is one float32 all-reduce (sum) between two barriers; the time of an iteration is the
 * slowest rank's, and a size's figure is the median over the iterations.
 */
public final class AllReduceBenchmark {
    public static void main(String[] args) {
        int[] sizes = {1, 16, 64};
        int iters = 10, warmup = 3;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--sizes-mib" -> sizes = Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
                case "--iters" -> iters = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("AllReduceBenchmark: unknown argument " + args[i] + " (--sizes-mib, --iters, --warmup)");
            }
        }
        ProcessGroup pg = Distributed.initFromEnv();
        int n = pg.size();
        // let the JIT compile the transfer and reduction loops before anything is timed (PyTorch's C++ needs no warm-up)
        Tensor warm = Tensor.ones(DType.FLOAT32, 1 << 20);
        for (int i = 0; i < 30; i++) pg.allReduce(warm, ReduceOp.SUM).waitFor();
        warm.close();
        if (pg.rank() == 0)
            System.out.printf(Locale.ROOT, "fluxion tcp all-reduce, float32 sum, %d ranks, median of %d%n%10s %12s %12s %12s%n", n, iters,
                    "size", "time (ms)", "algbw GB/s", "busbw GB/s");
        for (int mib : sizes) {
            int count = mib * (1 << 20) / 4;
            Tensor t = Tensor.ones(DType.FLOAT32, count);
            Tensor slowest = Tensor.zeros(DType.FLOAT64, 1);
            double[] times = new double[iters];
            for (int it = -warmup; it < iters; it++) {
                pg.barrier().waitFor();
                long t0 = System.nanoTime();
                pg.allReduce(t, ReduceOp.SUM).waitFor();
                double secs = (System.nanoTime() - t0) / 1e9;
                slowest.fill_(secs);
                pg.allReduce(slowest, ReduceOp.MAX).waitFor();
                if (it >= 0) times[it] = slowest.item();
            }
            Arrays.sort(times);
            double med = times[iters / 2];
            double bytes = (double) count * 4;
            if (pg.rank() == 0)
                System.out.printf(Locale.ROOT, "%7d MiB %12.2f %12.2f %12.2f%n", mib, med * 1e3, bytes / med / 1e9, 2.0 * (n - 1) / n * bytes / med / 1e9);
            t.close();
        }
        pg.close();
    }
}
