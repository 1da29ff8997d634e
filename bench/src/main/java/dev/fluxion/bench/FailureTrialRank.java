package dev.fluxion.bench;

import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.Tanh;
import dev.fluxion.optim.SGD;
import dev.fluxion.parallel.Distributed;
import dev.fluxion.parallel.DistributedDataParallel;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;

/**
 * The job {@link FailureTrials} starts through {@code bin/fluxrun}: a small MLP trained data-parallel (DDP)
 * on random batches until it is stopped (or for the steps given). Each rank prints "ready" after its first
 * step; on a failure it prints the exception and exits with 3.
 */
public final class FailureTrialRank {
    private FailureTrialRank() {}

    public static void main(String[] args) {
        long steps = args.length > 0 ? Long.parseLong(args[0]) : Long.MAX_VALUE;
        try {
            ProcessGroup pg = Distributed.initFromEnv();
            Module m = new Sequential(new Linear(64, 256, true, Init.seed(1)), new Tanh(), new Linear(256, 256, true, Init.seed(2)), new Tanh(),
                    new Linear(256, 8, true, Init.seed(3)));
            var ddp = new DistributedDataParallel(m, pg);
            SGD opt = new SGD(new ArrayList<>(ddp.parameters()), SGD.Config.DEFAULT.withLr(0.01));
            Generator g = new Generator(100 + pg.rank());
            for (long step = 0; step < steps; step++) {
                try (var s = Scope.open()) {
                    Tensor x = Tensor.randn(g, 32, 64), y = Tensor.randn(g, 32, 8);
                    Tensor loss = Losses.mse(ddp.forward(x), y);
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                }
                if (step == 0) { System.out.println("ready"); System.out.flush(); }
            }
            pg.close();
        } catch (RuntimeException e) {
            System.err.println("FAILED: " + e.getMessage());
            System.err.flush();
            System.exit(3);
        }
    }
}
