package dev.fluxion.parallel.tensor;

import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Element-wise comparisons with a message naming the tensor and the worst element. */
final class Close {
    private Close() {}

    static void assertClose(Tensor expected, Tensor actual, double tol, String what) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape " + Shape.str(actual.shape()) + ", expected " + Shape.str(expected.shape()));
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray();
        int worst = -1;
        double max = 0;
        for (int i = 0; i < e.length; i++) {
            double d = Math.abs(e[i] - a[i]);
            if (!(d <= max)) { max = d; worst = i; }
        }
        assertTrue(max <= tol, what + ": max |difference| " + max + " at element " + worst + " (expected " + (worst < 0 ? 0 : e[worst]) + ", got "
                + (worst < 0 ? 0 : a[worst]) + "), tolerance " + tol);
    }

    static void assertSameState(Map<String, Tensor> expected, Map<String, Tensor> actual, double tol, String what) {
        assertEquals(expected.keySet(), actual.keySet(), what + ": keys");
        for (String k : expected.keySet()) assertClose(expected.get(k), actual.get(k), tol, what + " '" + k + "'");
    }

    static boolean anyDifferent(Tensor a, Tensor b) { return !Arrays.equals(a.toFloatArray(), b.toFloatArray()); }
}
