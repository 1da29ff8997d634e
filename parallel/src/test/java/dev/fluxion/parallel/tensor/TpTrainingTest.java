package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.tensor.Close.assertSameState;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Clipping by the global norm and single-process optimizer state dicts for a tensor-parallel Gpt. */
class TpTrainingTest {
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final Gpt.Config CONFIG = TensorParallelGptTest.CONFIG;
    static final int STEPS = 3;
    static final double MAX_NORM = 0.5, TOL = 1e-5;

    @ParameterizedTest(name = "TP={0}") @ValueSource(ints = {2, 4})
    void clippedStepsAndOptimizerStateEqualSingleProcess(int n) throws Exception {
        Gpt ref = new Gpt(CONFIG, Init.seed(3));
        AdamW opt0 = new AdamW(ref.parameters(), AdamW.Config.DEFAULT);
        double[] norms = new double[STEPS];
        for (int s = 0; s < STEPS; s++) {
            Tensor[] b = TensorParallelGptTest.batch(s);
            Tensor loss = Losses.crossEntropy(ref.forward(b[0]), b[1]);
            opt0.zeroGrad();
            loss.backward();
            norms[s] = Clipping.clipGradNorm(ref.parameters(), MAX_NORM).item();
            opt0.step();
        }
        assertTrue(norms[0] > MAX_NORM, "the test must clip: norm " + norms[0]);
        Map<String, Tensor> refOpt = opt0.stateDict();

        List<Object[]> runs = LocalCluster.run(n, TIMEOUT, pg -> {
            Init init = Init.seed(3);
            Gpt m = new Gpt(CONFIG, init);
            TensorParallel.gptPlan(CONFIG).apply(m, new TpContext(pg, false, init.generator()));
            AdamW opt = new AdamW(m.parameters(), AdamW.Config.DEFAULT);
            double[] got = new double[STEPS];
            for (int s = 0; s < STEPS; s++) {
                Tensor[] b = TensorParallelGptTest.batch(s);
                Tensor loss = VocabParallelCrossEntropy.apply(m.forward(b[0]), b[1], pg);
                opt.zeroGrad();
                loss.backward();
                got[s] = TpTraining.clipGradNorm(m, MAX_NORM, pg);
                opt.step();
            }
            Map<String, Tensor> full = TpTraining.fullOptimizerState(opt.stateDict(), m, pg);
            // a fresh optimizer loads its pieces of the full state and gives the same full state back
            AdamW again = new AdamW(m.parameters(), AdamW.Config.DEFAULT);
            again.loadStateDict(TpTraining.localOptimizerState(full, m, pg));
            Map<String, Tensor> roundTrip = TpTraining.fullOptimizerState(again.stateDict(), m, pg);
            return new Object[] {got, TensorParallel.fullStateDict(m, pg), full, roundTrip};
        });
        for (int r = 0; r < n; r++) {
            Object[] run = runs.get(r);
            for (int s = 0; s < STEPS; s++) assertEquals(norms[s], ((double[]) run[0])[s], 1e-4, "rank " + r + " gradient norm at step " + s);
            assertSameState(ref.stateDict(), cast(run[1]), TOL, "rank " + r + " weights");
            assertSameState(refOpt, cast(run[2]), TOL, "rank " + r + " optimizer state");
            assertSameState(refOpt, cast(run[3]), TOL, "rank " + r + " optimizer state after a load");
        }
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Tensor> cast(Object o) { return (Map<String, Tensor>) o; }
}
