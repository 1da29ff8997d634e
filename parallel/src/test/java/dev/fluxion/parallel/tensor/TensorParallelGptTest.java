package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.tensor.Close.assertClose;
import static dev.fluxion.parallel.tensor.Close.assertSameState;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A small Gpt made tensor-parallel by the plan trains as the single-process one (TP = 2, 4; sequence parallelism on and off). */
class TensorParallelGptTest {
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final Gpt.Config CONFIG = new Gpt.Config(32, 8, 2, 4, 16, 0.0);
    static final int B = 2, T = 8, STEPS = 10;
    static final double TOL = 1e-5;

    static Tensor[] batch(int step) {
        Generator g = new Generator(500 + step);
        Tensor ids = Tensor.randint(g, 0, CONFIG.vocab(), B, T + 1);
        return new Tensor[] {ids.narrow(1, 0, T).contiguous(), ids.narrow(1, 1, T).contiguous()};
    }

    /**
     * PyTorch's default AdamW (lr 1e-3). The key bias of attention has a gradient of exactly zero in exact
     * arithmetic (softmax ignores a constant added to every score of a query), so what it gets is rounding
     * noise that depends on the summation order; Adam scales noise up to steps of about lr. At lr 1e-3 that
     * stays under the tolerance over 10 steps; at 1e-2 the key bias drifts by up to 2.7e-5 (seen at TP = 2 and 4).
     */
    static AdamW adamw(Module m) { return new AdamW(m.parameters(), AdamW.Config.DEFAULT); }

    /** Losses of each step and the final state of the single-process model. */
    record Run(double[] losses, Map<String, Tensor> state) {}

    static Run singleProcess(Gpt.Config config, long seed) {
        Gpt m = new Gpt(config, Init.seed(seed));
        AdamW opt = adamw(m);
        double[] losses = new double[STEPS];
        for (int s = 0; s < STEPS; s++) {
            Tensor[] b = batch(s);
            Tensor loss = Losses.crossEntropy(m.forward(b[0]), b[1]);
            opt.zeroGrad();
            loss.backward();
            opt.step();
            losses[s] = loss.item();
        }
        return new Run(losses, m.stateDict());
    }

    static Run tensorParallel(ProcessGroup tp, Gpt.Config config, long seed, boolean sequenceParallel, Map<String, Tensor> load) {
        Init init = Init.seed(seed);
        Gpt m = new Gpt(config, init);
        TensorParallel.gptPlan(config).apply(m, new TpContext(tp, sequenceParallel, init.generator()));
        if (load != null) TensorParallel.loadFullStateDict(m, load, tp);
        AdamW opt = adamw(m);
        double[] losses = new double[STEPS];
        for (int s = 0; s < STEPS; s++) {
            Tensor[] b = batch(s);
            Tensor logits = m.forward(b[0]);                                            // (B, T, V/n)
            assertEquals(config.vocab() / tp.size(), logits.size(2), "no rank holds the full logits");
            Tensor loss = VocabParallelCrossEntropy.apply(logits, b[1], tp);
            opt.zeroGrad();
            loss.backward();
            opt.step();
            losses[s] = loss.item();
        }
        return new Run(losses, TensorParallel.fullStateDict(m, tp));
    }

    @ParameterizedTest(name = "TP={0}, sequence parallel={1}")
    @CsvSource({"2, false", "4, false", "2, true", "4, true"})
    void tenAdamWStepsEqualSingleProcess(int n, boolean sequenceParallel) throws Exception {
        Run ref = singleProcess(CONFIG, 1);
        List<Run> runs = LocalCluster.run(n, TIMEOUT, pg -> tensorParallel(pg, CONFIG, 1, sequenceParallel, null));
        for (int r = 0; r < n; r++) {
            for (int s = 0; s < STEPS; s++) assertEquals(ref.losses()[s], runs.get(r).losses()[s], TOL, "rank " + r + " loss at step " + s);
            assertSameState(ref.state(), runs.get(r).state(), TOL, "rank " + r + " saved state after " + STEPS + " steps");
        }
    }

    /** Weights loaded from a single-process state dict (another seed's) override the parallel model's own initialisation. */
    @Test void loadsASingleProcessCheckpointAndSavesOne() throws Exception {
        Map<String, Tensor> checkpoint = new Gpt(CONFIG, Init.seed(42)).stateDict();
        Run ref = singleProcess(CONFIG, 42);
        List<Run> runs = LocalCluster.run(2, TIMEOUT, pg -> tensorParallel(pg, CONFIG, 7, false, checkpoint));
        assertSameState(ref.state(), runs.get(0).state(), TOL, "state trained from the loaded checkpoint");
        assertClose(Tensor.of(ref.losses(), STEPS), Tensor.of(runs.get(1).losses(), STEPS), TOL, "losses");
    }

    @Test void aPatternThatMatchesNothingIsRefusedByName() throws Exception {
        LocalCluster.run(1, TIMEOUT, pg -> {
            Init init = Init.seed(1);
            var plan = ParallelizePlan.of().with("blocks.*.attention", ParallelStyle.colwise());
            var e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                    () -> plan.apply(new Gpt(CONFIG, init), new TpContext(pg, false, init.generator())));
            assertTrue(e.getMessage().contains("'blocks.*.attention' matches no module") && e.getMessage().contains("blocks.0.attn"), e.getMessage());
            return null;
        });
    }

    @Test void planPathsAndShardsAreMegatrons() throws Exception {
        List<List<String>> out = LocalCluster.run(2, TIMEOUT, pg -> {
            Init init = Init.seed(1);
            Gpt m = new Gpt(CONFIG, init);
            long full = TensorParallel.parameterBytes(m);
            TensorParallel.gptPlan(CONFIG).apply(m, new TpContext(pg, false, init.generator()));
            assertTrue(m.getSubmodule("blocks.1.attn") instanceof ParallelSelfAttention);
            assertTrue(m.getSubmodule("blocks.1.attn.qkv") instanceof ColumnParallelLinear);
            assertTrue(m.getSubmodule("blocks.1.attn.proj") instanceof RowParallelLinear);
            assertTrue(m.getSubmodule("blocks.0.mlp.0") instanceof ColumnParallelLinear);
            assertTrue(m.getSubmodule("blocks.0.mlp.2") instanceof RowParallelLinear);
            assertTrue(m.getSubmodule("tokens") instanceof VocabParallelEmbedding);
            assertTrue(TensorParallel.parameterBytes(m) < full * 0.6, "split layers hold half their parameters per rank");
            return new ArrayList<>(TensorParallel.shards(m).keySet());
        });
        assertTrue(out.get(0).contains("blocks.0.attn.qkv.weight") && !out.get(0).contains("blocks.0.attn.proj.bias")
                && !out.get(0).contains("positions.weight"), "sharded: " + out.get(0));
    }
}
