package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static dev.fluxion.tensor.TensorAssert.bits16;
import static dev.fluxion.tensor.TensorAssert.fromBits16;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** dtype properties, conversions between every pair, float16/bfloat16 rounding, integer exactness. */
class DTypeTest {

    @Test void properties() {
        assertEquals(List.of(4, 8, 2, 2, 8, 4, 1, 1, 1), java.util.Arrays.stream(DType.values()).map(DType::byteSize).toList());
        for (DType d : DType.values())
            assertEquals(d.name().startsWith("FLOAT") || d == DType.BFLOAT16, d.isFloatingPoint(), d.toString());
        assertEquals("bfloat16", DType.BFLOAT16.toString());
        assertTrue(DType.INT32.computesInDouble());
        assertFalse(DType.FLOAT16.computesInDouble());
        assertTrue(DType.FLOAT32.canHold(0.1));
        assertTrue(DType.INT64.canHold(-3));
        assertFalse(DType.INT64.canHold(0.5));
        assertFalse(DType.INT32.canHold(3e9));
        assertTrue(DType.INT8.canHold(-128));
        assertFalse(DType.INT8.canHold(128));
        assertFalse(DType.UINT8.canHold(-1));
        assertTrue(DType.UINT8.canHold(255));
        assertTrue(DType.BOOL.canHold(1));
        assertFalse(DType.BOOL.canHold(2));
        for (DType d : DType.values()) assertEquals(d, Tensor.zeros(d, 1).storage().dtype());
        assertEquals(12L, Tensor.zeros(DType.FLOAT16, 2, 3).storage().nbytes());
    }

    /** Small integers survive a conversion from every dtype to every other, contiguous or strided. */
    @ParameterizedTest @EnumSource(DType.class)
    void everyPairOfDtypes(DType from) {
        long[] v = from == DType.BOOL ? new long[] {0, 1, 1, 0} : new long[] {0, 1, 5, 100};
        Tensor x = Tensor.of(v, 2, 2).to(from);
        assertEquals(from, x.dtype());
        for (DType to : DType.values()) {
            Tensor y = x.to(to);
            assertEquals(to, y.dtype());
            long[] want = to == DType.BOOL ? java.util.Arrays.stream(v).map(a -> a != 0 ? 1 : 0).toArray() : v;
            assertLongs(y, want);
            assertLongs(x.t().to(to).t(), want);
            Tensor dst = Tensor.zeros(to, 2, 4).slice(1, 1, 4, 2);          // strided destination
            dst.copy_(x);
            assertLongs(dst, want);
        }
    }

    @Test void float16AndBfloat16RoundToNearestEven() {
        double e = Math.scalb(1.0, -10);
        float[] in = {1 + (float) e / 2, 1 + 3 * (float) e / 2, 65504, 65519, 65520, 1e-8f, (float) Math.scalb(1.0, -25),
                (float) Math.scalb(3.0, -25), (float) Math.scalb(1.0, -24), -0f, Float.POSITIVE_INFINITY};
        double[] want = {1, 1 + 2 * e, 65504, 65504, Double.POSITIVE_INFINITY, 0, 0, Math.scalb(2.0, -24), Math.scalb(1.0, -24), 0,
                Double.POSITIVE_INFINITY};
        Tensor h = Tensor.of(in).to(DType.FLOAT16);
        assertValues(h, want);
        assertEquals((short) 0x8000, bits16(h)[9], "-0 keeps its sign");
        assertEquals((short) 0x7c00, bits16(h)[4], "overflow is +inf");
        float[] bin = {1 + (float) Math.scalb(1.0, -8), 1 + (float) Math.scalb(3.0, -8), 3.4028235e38f, 1e-40f, -1.5f};
        double[] bwant = {1, 1 + Math.scalb(1.0, -6), Double.POSITIVE_INFINITY, Math.scalb(Math.rint(1e-40 / Math.scalb(1.0, -133)), -133), -1.5};
        assertValues(Tensor.of(bin).to(DType.BFLOAT16), bwant);
        Tensor nan = Tensor.of(Float.NaN).to(DType.FLOAT16);
        assertTrue(Double.isNaN(nan.item()));
        assertTrue(Double.isNaN(Tensor.of(Float.NaN).to(DType.BFLOAT16).item()));
    }

    /** Every float16 and bfloat16 bit pattern decodes to a float that encodes back to the same bits. */
    @ParameterizedTest @EnumSource(value = DType.class, names = {"FLOAT16", "BFLOAT16"})
    void everySixteenBitPatternRoundTrips(DType dt) {
        short[] bits = new short[1 << 16];
        for (int i = 0; i < bits.length; i++) bits[i] = (short) i;
        Tensor h = fromBits16(dt, bits, bits.length);
        float[] f = h.toFloatArray();
        short[] back = bits16(Tensor.of(f).to(dt));
        double[] d = h.toDoubleArray();
        for (int i = 0; i < bits.length; i++) {
            if (Float.isNaN(f[i])) {
                int exp = dt == DType.FLOAT16 ? 0x7c00 : 0x7f80, mant = dt == DType.FLOAT16 ? 0x3ff : 0x7f;
                assertTrue((back[i] & exp) == exp && (back[i] & mant) != 0, "NaN stays NaN at 0x" + Integer.toHexString(i));
                continue;
            }
            assertEquals(bits[i], back[i], "pattern 0x" + Integer.toHexString(i));
            assertEquals(f[i], d[i], "float and double reads agree");
        }
        // ordering of the positive finite values follows the bit patterns
        int maxFinite = dt == DType.FLOAT16 ? 0x7bff : 0x7f7f;
        for (int i = 1; i <= maxFinite; i++) assertTrue(f[i] > f[i - 1], "monotonic at 0x" + Integer.toHexString(i));
        assertEquals(dt == DType.FLOAT16 ? 65504f : 3.3895314e38f, f[maxFinite]);
        assertEquals(dt == DType.FLOAT16 ? Math.scalb(1f, -24) : Math.scalb(1f, -133), f[1]);
    }

    @Test void floatToIntegerTruncatesTowardZero() {
        Tensor x = Tensor.of(2.9f, -2.9f, 0.5f, -0.5f, 127.99f);
        assertLongs(x.to(DType.INT64), 2, -2, 0, 0, 127);
        assertLongs(x.to(DType.INT32), 2, -2, 0, 0, 127);
        assertLongs(x.to(DType.INT8), 2, -2, 0, 0, 127);
        assertLongs(Tensor.of(new double[] {2.9, 255.5}, 2).to(DType.UINT8), 2, 255);
        assertLongs(Tensor.of(0f, -0f, 0.1f, Float.NaN).to(DType.BOOL), 0, 0, 1, 1);
    }

    @Test void integersWrapModuloTheirWidth() {
        Tensor x = Tensor.of(new long[] {300, -1, 1L << 32, (1L << 31) + 5}, 4);
        assertLongs(x.to(DType.UINT8), 44, 255, 0, 5);
        assertLongs(x.to(DType.INT8), 44, -1, 0, 5);
        assertLongs(x.to(DType.INT32), 300, -1, 0, Integer.MIN_VALUE + 5);
    }

    @Test void int64StaysExactInCopiesAndViews() {
        long a = (1L << 60) + 1, b = -(1L << 55) - 3;
        Tensor x = Tensor.of(new long[] {a, b, 1, 2}, 2, 2);
        assertLongs(x.t().contiguous(), a, 1, b, 2);
        assertLongs(x.t().reshape(4), a, 1, b, 2);
        assertLongs(Tensor.cat(List.of(x.select(1, 0), x.select(1, 1)), 0), a, 1, b, 2);
        assertLongs(x.expand(2, 2, 2).select(0, 1), a, b, 1, 2);
        assertLongs(x.to(DType.INT64), a, b, 1, 2);
        Tensor dst = Tensor.zeros(DType.INT64, 2, 2);
        dst.t().copy_(x);
        assertLongs(dst, a, 1, b, 2);
        assertEquals(a, x.toLongArray()[0]);
        assertLongs(Tensor.of(new int[] {Integer.MIN_VALUE}, 1).to(DType.INT64), Integer.MIN_VALUE);
    }
}
