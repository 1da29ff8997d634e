package dev.fluxion.tensor.cpu;

import jdk.incubator.vector.FloatVector;
import org.junit.jupiter.api.Test;

import java.util.function.DoubleUnaryOperator;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The JIT-independent exp/log/tanh against java.lang.Math, in ulps, plus their special values. */
class VectorMathTest {
    private static final int L = VectorMath.S.length();

    private static float[] apply(UnaryOperator<FloatVector> f, float[] in) {
        float[] out = new float[in.length];
        for (int i = 0; i + L <= in.length; i += L) f.apply(FloatVector.fromArray(VectorMath.S, in, i)).intoArray(out, i);
        return out;
    }

    private static void assertUlps(String name, UnaryOperator<FloatVector> f, DoubleUnaryOperator ref, float lo, float hi, int maxUlps) {
        int n = L * 4096;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = lo + (hi - lo) * i / (n - 1);
        float[] y = apply(f, x);
        for (int i = 0; i < n; i++) {
            float expected = (float) ref.applyAsDouble(x[i]);
            float err = Math.abs(y[i] - expected) / Math.ulp(expected);
            assertTrue(err <= maxUlps, name + "(" + x[i] + ") = " + y[i] + ", Math gives " + expected + " (" + err + " ulp)");
        }
    }

    @Test
    void accurateToAFewUlps() {
        assertUlps("exp", VectorMath::exp, Math::exp, -87f, 88f, 2);
        assertUlps("log", VectorMath::log, Math::log, 1e-30f, 1e30f, 2);
        assertUlps("log near 1", VectorMath::log, Math::log, 0.5f, 2f, 2);
        assertUlps("tanh", VectorMath::tanh, Math::tanh, -10f, 10f, 3);
        assertUlps("tanh near 0", VectorMath::tanh, Math::tanh, -0.7f, 0.7f, 3);
    }

    private static void assertNear(float expected, float actual, String what) {
        if (Float.isNaN(expected) || Float.isInfinite(expected) || expected == 0) assertEquals(expected, actual, what);
        else assertEquals(expected, actual, 2 * Math.ulp(expected), what);
    }

    @Test
    void specialValues() {
        float[] in = new float[L];
        float[] specials = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -0f, 100f, -100f, 1e-40f, -1f};
        for (int i = 0; i < L; i++) in[i] = specials[i % specials.length];
        float[] e = apply(VectorMath::exp, in), l = apply(VectorMath::log, in), t = apply(VectorMath::tanh, in);
        for (int i = 0; i < specials.length && i < L; i++) {
            float v = specials[i];
            float expectExp = v < -87.3365479f ? 0f : (float) Math.exp(v);     // results below FLT_MIN flush to 0
            assertNear(expectExp, e[i], "exp(" + v + ")");
            assertNear((float) Math.log(v), l[i], "log(" + v + ")");
            assertNear((float) Math.tanh(v), t[i], "tanh(" + v + ")");
        }
    }
}
