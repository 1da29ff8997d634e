package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static dev.fluxion.parallel.fsdp.FsdpHarness.*;
import static org.junit.jupiter.api.Assertions.*;

/** Mixed precision (bf16 compute, float32 master, state and reduction), and ranks that diverge. */
class FsdpPrecisionAndDivergenceTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    static List<Double> losses(FullyShardedDataParallel fsdp, int rank, int steps, List<String> dtypes) {
        AdamW opt = new AdamW(fsdp.parameters(), ADAMW);
        List<Double> out = new ArrayList<>();
        for (int step = 0; step < steps; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = part(batch(step % 2, 2), rank, 2);
                Tensor logits = fsdp.module().forward(b[0]);
                if (dtypes != null && step == 0) dtypes.add("logits " + logits.dtype());
                Tensor loss = Losses.crossEntropy(logits.to(DType.FLOAT32), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
                out.add(loss.item());
            }
        }
        if (dtypes != null) {
            dtypes.add("module " + fsdp.module().parameters().get(0).dtype());
            dtypes.add("shard " + fsdp.parameters().get(0).dtype());
            dtypes.add("grad " + fsdp.parameters().get(0).grad().dtype());
            dtypes.add("state " + opt.stateDict().get("state.0.exp_avg").dtype());
        }
        return out;
    }

    @Test void bf16ComputeWithFloat32MasterWeightsStateAndReductionTracksFloat32Training() throws Exception {
        int steps = 8;
        List<List<Double>> full = LocalCluster.run(2, TIMEOUT, pg -> losses(FullyShardedDataParallel.fullyShard(new Gpt(CONFIG, Init.seed(7)), pg,
                WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT), pg.rank(), steps, null));
        List<String> dtypes = java.util.Collections.synchronizedList(new ArrayList<>());
        List<List<Double>> mixed = LocalCluster.run(2, TIMEOUT, pg -> losses(FullyShardedDataParallel.fullyShard(new Gpt(CONFIG, Init.seed(7)), pg,
                WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT.withMixedPrecision(MixedPrecision.BF16)), pg.rank(), steps, pg.rank() == 0 ? dtypes : null));
        assertEquals(List.of("logits bfloat16", "module bfloat16", "shard float32", "grad float32", "state float32"), dtypes);
        for (int r = 0; r < 2; r++)
            for (int s = 0; s < steps; s++)
                assertEquals(full.get(r).get(s), mixed.get(r).get(s), 0.05, "rank " + r + " step " + s + ": bf16 loss near the float32 loss");
        assertTrue(mixed.get(0).get(steps - 1) < mixed.get(0).get(0) - 0.1, "bf16 training learns: " + mixed.get(0));
    }

    /** Two equal layers; rank `flipped` calls them in the other order. */
    static final class TwoLayers extends Module {
        final Linear a, b;
        final boolean flip;
        TwoLayers(boolean flip) {
            Init init = Init.seed(5);
            a = register("a", new Linear(8, 8, true, init));
            b = register("b", new Linear(8, 8, true, init));
            this.flip = flip;
        }
        @Override protected Tensor compute(Tensor x) { return flip ? a.forward(b.forward(x)) : b.forward(a.forward(x)); }
    }

    @Test void ranksThatCallUnitsInAnotherOrderAllFailNamingTheUnitsAndRanks() throws Exception {
        var outcomes = LocalCluster.runAll(2, Duration.ofSeconds(5), pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(new TwoLayers(pg.rank() == 1), pg, WrapPolicy.byClass(Linear.class), FsdpConfig.DEFAULT);
            fsdp.module().forward(Tensor.ones(2, 8)).sum().backward();
            return null;
        });
        for (int r = 0; r < 2; r++) {
            Throwable e = outcomes.get(r).error();
            assertNotNull(e, "rank " + r + " fails");
            String m = e.getMessage();
            assertTrue(m.contains("ranks gathered different units") && m.contains("rank 0: unit 1 ('a', Linear)") && m.contains("rank 1: unit 2 ('b', Linear)"), m);
        }
    }

    @Test void aRankThatSkipsAStepMakesEveryRankFailWithinTheTimeout() throws Exception {
        long start = System.nanoTime();
        var outcomes = LocalCluster.runAll(2, Duration.ofSeconds(5), pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            for (int step = 0; step < 3; step++) {
                if (step == 1 && pg.rank() == 1) continue;   // rank 1 skips a forward and backward
                try (var s = Scope.open()) {
                    Tensor[] b = part(batch(step, 2), pg.rank(), 2);
                    Losses.crossEntropy(fsdp.module().forward(b[0]), b[1]).backward();
                }
            }
            fsdp.fullStateDict();
            return null;
        });
        assertTrue(System.nanoTime() - start < 20e9, "nothing hangs");
        for (int r = 0; r < 2; r++) {
            Throwable e = outcomes.get(r).error();
            assertNotNull(e, "rank " + r + " fails");
            assertTrue(e.getMessage().contains("unit") && e.getMessage().contains("rank"), e.getMessage());
        }
        assertTrue(outcomes.get(0).error().getMessage().contains("unit 0 ('<root>', Gpt)"), outcomes.get(0).error().getMessage());
    }
}
