package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;
import java.util.List;
import java.util.Map;

import static dev.fluxion.parallel.tensor.Close.assertSameState;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

/**
 * Randomness that does not depend on the layout: the same seed gives the same initial weights and the same
 * dropout masks at TP = 1, 2 and 4, with sequence parallelism on or off.
 */
class LayoutIndependenceTest {
    static final Duration TIMEOUT = Duration.ofSeconds(60);
    static final Gpt.Config DROPPY = TensorParallelGptTest.CONFIG.withDropout(0.25);
    static final int STEPS = 3;
    static final double TOL = 1e-5;

    @ParameterizedTest(name = "TP={0}") @ValueSource(ints = {1, 2, 4})
    void sameSeedSameInitialWeights(int n) throws Exception {
        Map<String, Tensor> single = new Gpt(DROPPY, Init.seed(5)).stateDict();
        List<Map<String, Tensor>> states = LocalCluster.run(n, TIMEOUT, pg -> {
            Init init = Init.seed(5);
            Gpt m = new Gpt(DROPPY, init);
            TensorParallel.gptPlan(DROPPY).apply(m, new TpContext(pg, false, init.generator()));
            return TensorParallel.fullStateDict(m, pg);
        });
        for (var s : states) assertSameState(single, s, 0, "TP=" + n + " initial weights");
    }

    /** Training steps with dropout 0.25 everywhere (embeddings, attention weights, residuals): masks equal, so losses and weights do. */
    @ParameterizedTest(name = "TP={0}, sequence parallel={1}")
    @CsvSource({"1, false", "2, false", "4, false", "2, true", "4, true"})
    void sameSeedSameDropoutMasks(int n, boolean sequenceParallel) throws Exception {
        Init init0 = Init.seed(9);
        Gpt ref = new Gpt(DROPPY, init0);
        AdamW opt0 = new AdamW(ref.parameters(), AdamW.Config.DEFAULT);
        double[] refLosses = new double[STEPS];
        for (int s = 0; s < STEPS; s++) {
            Tensor[] b = TensorParallelGptTest.batch(s);
            Tensor loss = Losses.crossEntropy(ref.forward(b[0]), b[1]);
            opt0.zeroGrad();
            loss.backward();
            opt0.step();
            refLosses[s] = loss.item();
        }
        long nextDraw = init0.generator().nextLong();
        ref.eval();
        Tensor[] b0 = TensorParallelGptTest.batch(0);
        assertNotEquals(refLosses[STEPS - 1], Losses.crossEntropy(ref.forward(b0[0]), b0[1]).item(), "dropout must be active in training mode for this test to mean anything");

        List<Object[]> runs = LocalCluster.run(n, TIMEOUT, pg -> {
            Init init = Init.seed(9);
            Gpt m = new Gpt(DROPPY, init);
            TensorParallel.gptPlan(DROPPY).apply(m, new TpContext(pg, sequenceParallel, init.generator()));
            int[][] lnInput = new int[1][];
            m.getSubmodule("blocks.0.ln1").registerForwardPreHook((mod, in) -> { lnInput[0] = in[0].shape(); return null; });
            AdamW opt = new AdamW(m.parameters(), AdamW.Config.DEFAULT);
            double[] losses = new double[STEPS];
            for (int s = 0; s < STEPS; s++) {
                Tensor[] b = TensorParallelGptTest.batch(s);
                Tensor loss = VocabParallelCrossEntropy.apply(m.forward(b[0]), b[1], pg);
                opt.zeroGrad();
                loss.backward();
                opt.step();
                losses[s] = loss.item();
            }
            return new Object[] {losses, TensorParallel.fullStateDict(m, pg), init.generator().nextLong(), lnInput[0]};
        });
        for (int r = 0; r < n; r++) {
            Object[] run = runs.get(r);
            double[] losses = (double[]) run[0];
            for (int s = 0; s < STEPS; s++) assertEquals(refLosses[s], losses[s], TOL, "rank " + r + " loss at step " + s);
            @SuppressWarnings("unchecked") Map<String, Tensor> state = (Map<String, Tensor>) run[1];
            assertSameState(ref.stateDict(), state, TOL, "rank " + r + " weights");
            assertEquals(nextDraw, (long) run[2], "rank " + r + ": the generator drew as many numbers as single-process");
            int t = TensorParallelGptTest.T;
            assertArrayEquals(new int[] {TensorParallelGptTest.B, sequenceParallel ? t / n : t, DROPPY.width()}, (int[]) run[3],
                    "layer norm input: sequence split with sequence parallelism, whole without");
        }
    }
}
