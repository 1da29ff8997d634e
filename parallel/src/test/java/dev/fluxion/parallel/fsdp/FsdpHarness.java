package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.optim.AdamW;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A small GPT, its batches, and single-process training on the concatenated batch: what FSDP tests compare with. */
final class FsdpHarness {
    static final Gpt.Config CONFIG = new Gpt.Config(16, 8, 2, 2, 16, 0.0);
    static final int B = 2, T = 8;
    static final AdamW.Config ADAMW = AdamW.Config.DEFAULT.withLr(1e-2);

    private FsdpHarness() {}

    /**
     * The model in float64: an attention's key bias has a gradient that is zero up to rounding, and Adam
     * turns float32 rounding noise (which differs with the reduction order) into full-size steps; in float64
     * that noise stays far below the 1e-5 the comparison allows.
     */
    static Gpt model() {
        Gpt m = new Gpt(CONFIG, Init.seed(7));
        m.to(dev.fluxion.tensor.DType.FLOAT64);
        return m;
    }

    /** The global batch of a step: ranks*B rows of ids and next ids; rank r trains on rows [r*B, (r+1)*B). */
    static Tensor[] batch(int step, int ranks) {
        Generator g = new Generator(500 + step);
        Tensor ids = Tensor.randint(g, 0, CONFIG.vocab(), ranks * B, T + 1);
        return new Tensor[] {ids.narrow(1, 0, T).contiguous(), ids.narrow(1, 1, T).contiguous()};
    }

    static Tensor[] part(Tensor[] b, int replica, int replicas) {
        int rows = b[0].size(0) / replicas;
        return new Tensor[] {b[0].narrow(0, replica * rows, rows).contiguous(), b[1].narrow(0, replica * rows, rows).contiguous()};
    }

    /** steps AdamW steps of one process on the whole batch of `ranks` ranks; the final state dict. */
    static Map<String, float[]> singleProcess(int ranks, int steps) {
        Module m = model();
        AdamW opt = new AdamW(m.parameters(), ADAMW);
        for (int step = 0; step < steps; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = batch(step, ranks);
                Tensor loss = Losses.crossEntropy(m.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
        return values(m.stateDict());
    }

    static Map<String, float[]> values(Map<String, Tensor> state) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (var e : state.entrySet()) if (e.getValue().dtype().isFloatingPoint()) out.put(e.getKey(), e.getValue().toFloatArray());
        return out;
    }

    static void assertClose(Map<String, float[]> want, Map<String, float[]> got, double tol, String what) {
        assertEquals(want.keySet(), got.keySet(), what + ": names");
        double worst = 0;
        for (String k : want.keySet()) {
            float[] a = want.get(k), b = got.get(k);
            assertEquals(a.length, b.length, what + ": " + k);
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs(a[i] - b[i]));
                assertEquals(a[i], b[i], tol, what + ": " + k + " element " + i);
            }
        }
        assertTrue(worst <= tol);
    }

    static List<String> names(Map<String, ?> m) { return List.copyOf(m.keySet()); }
}
