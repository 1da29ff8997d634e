package dev.fluxion.nn;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/** Dropout and initialisation without a generator of their own draw from the global one that Generator.manualSeed reseeds. */
class GlobalSeedTest {
    private static float[] draw() {
        Linear fc = new Linear(4, 3, true, Init.global());
        Tensor dropped = new Dropout(0.5).forward(Tensor.ones(16));
        Tensor f = Functional.dropout(Tensor.ones(16), 0.3);
        float[] w = fc.weight().toFloatArray(), d = dropped.toFloatArray(), e = f.toFloatArray();
        float[] all = new float[w.length + d.length + e.length];
        System.arraycopy(w, 0, all, 0, w.length);
        System.arraycopy(d, 0, all, w.length, d.length);
        System.arraycopy(e, 0, all, w.length + d.length, e.length);
        return all;
    }

    @Test
    void sameSeedSameWeightsAndMasks() {
        Generator.manualSeed(7);
        float[] a = draw();
        Generator.manualSeed(7);
        float[] b = draw();
        Generator.manualSeed(8);
        float[] c = draw();
        assertArrayEquals(a, b);
        assertFalse(java.util.Arrays.equals(a, c));
    }
}
