package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.UnaryOp;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scalar loops that run without the Vector API give the vector bodies' bits, element for element
 * (NaN payloads aside: one NaN is as good as another). ScalarFallbackTest checks the same end to end, in a JVM started without the module.
 */
class ScalarLanesTest {
    private static float[] inputs(int n) {
        Random r = new Random(7);
        float[] x = new float[n];
        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 100f, -100f, 1e-40f,
                -1e-40f, 88.8f, -88f, 0.6249f, 0.625f, -0.625f, 20f, -9f, Float.MIN_VALUE, Float.MAX_VALUE};
        for (int i = 0; i < n; i++) {
            if (i < specials.length) x[i] = specials[i];
            else if (i % 3 == 0) x[i] = (float) r.nextGaussian() * 4;
            else if (i % 3 == 1) x[i] = (float) Math.exp(r.nextGaussian() * 10);
            else x[i] = (r.nextFloat() - 0.5f) * 200;
        }
        return x;
    }

    @Test
    void everyUnaryLaneMatchesTheVectorBody() {
        assertTrue(Simd.ENABLED, "this test runs with --add-modules jdk.incubator.vector (surefire's argLine)");
        int n = 1 << 14;
        float[] x = inputs(n), v = new float[n];
        for (UnaryOp op : UnaryOp.values()) {
            int bound = VectorKernels.unary(op, x, v, n);
            for (int i = 0; i < bound; i++) {
                float s = FloatKernels.lane(op, x[i]);
                if (Float.floatToIntBits(v[i]) != Float.floatToIntBits(s))
                    throw new AssertionError(op + "(" + x[i] + "): the vector body gives " + v[i] + ", the scalar lane " + s);
            }
        }
    }

    @Test
    void binarySumMaxSelectMatch() {
        int n = 1000 + 13;
        float[] a = inputs(n), b = inputs(n + 5), v = new float[n], s = new float[n];
        for (BinaryOp op : BinaryOp.values()) {
            int bound = VectorKernels.binary(op, a, b, v, n);
            for (int i = 0; i < bound; i++) s[i] = FloatKernels.scalar(op, a[i], b[i]);
            for (int i = 0; i < bound; i++)
                assertEquals(Float.floatToIntBits(v[i]), Float.floatToIntBits(s[i]), op + " at " + i);
        }
        Random r = new Random(3);
        for (int len : new int[] {0, 1, 15, 16, 17, 64, 999, 2048}) {
            float[] x = new float[len];
            for (int i = 0; i < len; i++) x[i] = (float) r.nextGaussian() * (i % 7 == 0 ? 1e4f : 1f);
            assertEquals(Double.doubleToLongBits(VectorKernels.sum(x, len, new float[FloatKernels.SUM_LANES])),
                    Double.doubleToLongBits(FloatKernels.scalarSum(x, len, new float[FloatKernels.SUM_LANES])), "sum of " + len);
            assertEquals(Float.floatToIntBits(VectorKernels.max(x, len)), Float.floatToIntBits(FloatKernels.scalarMax(x, len)), "max of " + len);
        }
    }
}
