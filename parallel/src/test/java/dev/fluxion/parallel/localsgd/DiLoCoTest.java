package dev.fluxion.parallel.localsgd;

import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.Tanh;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.SGD;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** DiLoCo on thread-ranks: H = 1 with outer SGD lr 1 against single-process (= DDP) training; H > 1 keeps replicas equal at each sync. */
class DiLoCoTest {
    static final Duration TIMEOUT = Duration.ofSeconds(20);
    static final int B = 4, STEPS = 8;

    static Module model(long seed) {
        Init init = Init.seed(seed);
        return new Sequential(new Linear(6, 16, true, init), new Tanh(), new Linear(16, 3, true, init));
    }

    static Tensor[] batch(int step, int n) {
        Generator g = new Generator(1000 + step);
        return new Tensor[] {Tensor.randn(g, n * B, 6), Tensor.randn(g, n * B, 3)};
    }

    static SGD sgd(List<? extends Tensor> params) {
        return new SGD(new ArrayList<>(params), SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9));
    }

    static List<float[]> values(Module m) {
        List<float[]> out = new ArrayList<>();
        for (var p : m.parameters()) out.add(p.toFloatArray());
        return out;
    }

    /** One process on the concatenated batch: what DDP computes (DistributedDataParallelTest checks that). */
    static List<float[]> singleProcess(int n) {
        Module m = model(1);
        SGD opt = sgd(m.parameters());
        for (int step = 0; step < STEPS; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = batch(step, n);
                Tensor loss = Losses.mse(m.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
        return values(m);
    }

    @Test void oneLocalStepWithOuterLrOneEqualsDataParallel() throws Exception {
        int n = 3;
        List<float[]> want = singleProcess(n);
        List<List<float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            Module m = model(1 + pg.rank());   // different on purpose: DiLoCo broadcasts rank 0's parameters
            var diloco = new DiLoCo(m.parameters(), pg, DiLoCo.Config.localSgd(1));
            SGD opt = sgd(m.parameters());     // momentum is linear in the gradient, so the mean of the replicas follows DDP
            for (int step = 0; step < STEPS; step++) {
                try (var s = Scope.open()) {
                    Tensor[] b = batch(step, n);
                    Tensor loss = Losses.mse(m.forward(b[0].narrow(0, pg.rank() * B, B)), b[1].narrow(0, pg.rank() * B, B));
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                    assertTrue(diloco.afterInnerStep());
                }
            }
            assertEquals(STEPS, diloco.synchronizations());
            return values(m);
        });
        for (int r = 0; r < n; r++)
            for (int i = 0; i < want.size(); i++)
                for (int k = 0; k < want.get(i).length; k++)
                    assertEquals(want.get(i)[k], got.get(r).get(i)[k], 1e-5, "rank " + r + " parameter " + i + " element " + k);
    }

    @Test void nesterovOuterStepMatchesItsFormulaAndReplicasAgreeAfterEverySync() throws Exception {
        int n = 2, h = 3;
        var config = DiLoCo.Config.DEFAULT.withLocalSteps(h);
        List<List<float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            Module m = model(5);
            var diloco = new DiLoCo(m.parameters(), pg, config);
            var inner = new AdamW(m.parameters(), AdamW.Config.DEFAULT.withLr(1e-2));
            List<float[]> expected = null;
            float[][] momentum = null;
            List<float[]> anchor = values(m);
            for (int step = 0; step < 2 * h; step++) {
                try (var s = Scope.open()) {
                    Tensor[] b = batch(step, n);
                    Tensor loss = Losses.mse(m.forward(b[0].narrow(0, pg.rank() * B, B)), b[1].narrow(0, pg.rank() * B, B));
                    inner.zeroGrad();
                    loss.backward();
                    inner.step();
                    if ((step + 1) % h == 0) {
                        // the outer step by hand, from every rank's local parameters (gathered through the group)
                        List<float[]> local = values(m);
                        List<float[]> mean = new ArrayList<>();
                        for (float[] p : local) {
                            Tensor t = Tensor.of(p.clone(), p.length);
                            pg.allReduce(t, dev.fluxion.parallel.ReduceOp.AVG).waitFor();
                            mean.add(t.toFloatArray());
                        }
                        if (momentum == null) momentum = new float[mean.size()][];
                        expected = new ArrayList<>();
                        for (int i = 0; i < mean.size(); i++) {
                            float[] a = anchor.get(i), e = new float[a.length];
                            if (momentum[i] == null) momentum[i] = new float[a.length];
                            for (int k = 0; k < a.length; k++) {
                                double g = a[k] - mean.get(i)[k];
                                double buf = step + 1 == h ? g : 0.9 * momentum[i][k] + g;
                                momentum[i][k] = (float) buf;
                                e[k] = (float) (a[k] - 0.7 * (g + 0.9 * buf));
                            }
                            expected.add(e);
                        }
                        anchor = expected;
                    }
                    assertEquals((step + 1) % h == 0, diloco.afterInnerStep());
                    if ((step + 1) % h == 0) {
                        List<float[]> now = values(m);
                        for (int i = 0; i < now.size(); i++)
                            for (int k = 0; k < now.get(i).length; k++)
                                assertEquals(expected.get(i)[k], now.get(i)[k], 1e-5, "step " + step + " parameter " + i + " element " + k);
                    }
                }
            }
            assertTrue(diloco.bytesSent() > 0);
            return values(m);
        });
        for (int i = 0; i < got.get(0).size(); i++) assertArrayEquals(got.get(0).get(i), got.get(1).get(i), "replicas equal after the last sync");
    }

    @Test void stateDictRoundTrips() throws Exception {
        LocalCluster.run(1, TIMEOUT, pg -> {
            Module m = model(2);
            var d = new DiLoCo(m.parameters(), pg, DiLoCo.Config.DEFAULT.withLocalSteps(2));
            var opt = sgd(m.parameters());
            for (int step = 0; step < 4; step++) {
                Tensor[] b = batch(step, 1);
                opt.zeroGrad();
                Losses.mse(m.forward(b[0]), b[1]).backward();
                opt.step();
                d.afterInnerStep();
            }
            var saved = d.stateDict();
            Module m2 = model(9);
            var d2 = new DiLoCo(m2.parameters(), pg, DiLoCo.Config.DEFAULT.withLocalSteps(2));
            d2.loadStateDict(saved);
            assertEquals(4, d2.innerSteps());
            var again = d2.stateDict();
            assertEquals(saved.keySet(), again.keySet());
            for (String k : saved.keySet()) assertArrayEquals(saved.get(k).toDoubleArray(), again.get(k).toDoubleArray(), k);
            return null;
        });
    }
}
