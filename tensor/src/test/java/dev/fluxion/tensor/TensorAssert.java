package dev.fluxion.tensor;

import org.junit.jupiter.api.function.Executable;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Assertions on tensors shared by the tests: values within a relative/absolute tolerance (a failure names
 * the first mismatching multi-index), exact values, shapes, and exception messages.
 */
final class TensorAssert {
    private TensorAssert() {}

    /** A tolerance: |actual - expected| <= abs + rel * |expected|. NaN matches NaN; infinities match exactly. */
    record Tol(double rel, double abs) {
        static final Tol EXACT = new Tol(0, 0);

        /** The default tolerance for results computed in dtype (one or two roundings of that dtype). */
        static Tol of(DType dtype) {
            return switch (dtype) {
                case FLOAT64 -> new Tol(1e-12, 1e-13);
                case FLOAT32 -> new Tol(1e-5, 1e-6);
                case FLOAT16 -> new Tol(5e-3, 1e-3);
                case BFLOAT16 -> new Tol(3e-2, 1e-2);
                default -> EXACT;
            };
        }

        Tol withAbs(double a) { return new Tol(rel, a); }
    }

    static void assertShape(Tensor t, int... shape) {
        assertArrayEquals(shape, t.shape(), () -> "shape: expected " + Arrays.toString(shape) + ", got " + Arrays.toString(t.shape()));
    }

    /** Shape and values, exactly. */
    static void assertValues(Tensor t, int[] shape, double... expected) {
        assertShape(t, shape);
        assertClose(expected, t, Tol.EXACT);
    }

    /** A 1-D or flattened comparison of values, exactly. */
    static void assertValues(Tensor t, double... expected) { assertClose(expected, t, Tol.EXACT); }

    static void assertLongs(Tensor t, long... expected) {
        long[] got = t.toLongArray();
        assertEquals(expected.length, got.length, () -> "numel of " + Arrays.toString(t.shape()));
        for (int i = 0; i < got.length; i++)
            if (got[i] != expected[i])
                fail("element " + Arrays.toString(multiIndex(i, t.shape())) + " (flat " + i + "): expected " + expected[i] + ", got " + got[i]
                        + "\n  expected " + Arrays.toString(expected) + "\n  actual   " + Arrays.toString(got));
    }

    static void assertClose(double[] expected, Tensor actual, Tol tol) {
        double[] got = actual.toDoubleArray();
        assertEquals(expected.length, got.length, () -> "numel of " + Arrays.toString(actual.shape()));
        int bad = -1, count = 0;
        for (int i = 0; i < got.length; i++) {
            if (!close(expected[i], got[i], tol)) {
                if (bad < 0) bad = i;
                count++;
            }
        }
        if (bad >= 0)
            fail(count + " of " + got.length + " elements differ (rel " + tol.rel() + ", abs " + tol.abs() + "); first at "
                    + Arrays.toString(multiIndex(bad, actual.shape())) + " (flat " + bad + "): expected " + expected[bad] + ", got " + got[bad]
                    + (got.length <= 64 ? "\n  expected " + Arrays.toString(expected) + "\n  actual   " + Arrays.toString(got) : ""));
    }

    /** Same dtype, shape and values within tol. */
    static void assertClose(Tensor expected, Tensor actual, Tol tol) {
        assertEquals(expected.dtype(), actual.dtype(), "dtype");
        assertShape(actual, expected.shape());
        assertClose(expected.toDoubleArray(), actual, tol);
    }

    static void assertClose(Tensor expected, Tensor actual) { assertClose(expected, actual, Tol.of(expected.dtype())); }

    static boolean close(double e, double a, Tol tol) {
        if (Double.isNaN(e) || Double.isNaN(a)) return Double.isNaN(e) && Double.isNaN(a);
        if (Double.isInfinite(e) || Double.isInfinite(a)) return e == a;
        return Math.abs(a - e) <= tol.abs() + tol.rel() * Math.abs(e);
    }

    static int[] multiIndex(int flat, int[] shape) {
        int[] idx = new int[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            if (shape[d] == 0) return idx;
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return idx;
    }

    /** The raw 16-bit patterns of a float16 or bfloat16 tensor, row-major. */
    static short[] bits16(Tensor t) {
        assertEquals(2, t.dtype().byteSize(), "bits16 needs a 16-bit dtype");
        Tensor c = t.contiguous();
        ByteBuffer b = ByteBuffer.allocate((int) c.numel() * 2).order(ByteOrder.nativeOrder());
        c.storage().readBytes(c.offset(), b);
        short[] out = new short[(int) c.numel()];
        b.flip().asShortBuffer().get(out);
        return out;
    }

    /** A float16 or bfloat16 tensor holding exactly the given bit patterns. */
    static Tensor fromBits16(DType dtype, short[] bits, int... shape) {
        Tensor t = Tensor.empty(dtype, Device.CPU, shape);
        ByteBuffer b = ByteBuffer.allocate(bits.length * 2).order(ByteOrder.nativeOrder());
        b.asShortBuffer().put(bits);
        t.storage().writeBytes(0, b);
        return t;
    }

    /** Runs body, expects exception type, and checks that its message contains every fragment (op name, values). */
    static <T extends Throwable> T assertThrowsWith(Class<T> type, Executable body, String... fragments) {
        T e = assertThrows(type, body);
        String msg = e.getMessage();
        for (String f : fragments)
            assertTrue(msg != null && msg.contains(f), () -> "message lacks \"" + f + "\": " + msg);
        return e;
    }
}
