package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fused dropout's composed default and rule on the CPU, where its keyed draw is a host Generator seeded with
 * the key (the CPU backend has no device generator): the mask is that draw &gt;= p, y = mask ? x / (1 - p) : 0, the
 * gradient mask ? g / (1 - p) : 0; and device randint's host checks (the GPU kernels: native's CudaDropoutTest).
 */
class DropoutOpTest {
    private static final long KEY = 0x1234_5678_9ABC_DEF0L;

    @Test void composeIsTheKeyedDrawAndWhere() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16}) {
            Tensor x = Tensor.randn(new Generator(3), DType.FLOAT64, 7, 9).to(dt);
            var op = new DropoutOp(0.3, KEY);
            FusedOp.Result r = FusedKernels.forward(op, new Tensor[] {x});
            float[] u = Tensor.rand(new Generator(KEY), DType.FLOAT32, 7, 9).toFloatArray();
            boolean[] mask = bools(r.state()[0]);
            assertEquals(DType.BOOL, r.state()[0].dtype(), "the mask is bool");
            double[] xs = x.toDoubleArray(), y = r.output().toDoubleArray();
            double scale = Tensor.full(1 / 0.7, dt, Device.CPU).item();   // the scale as x's dtype holds it
            int kept = 0;
            for (int i = 0; i < u.length; i++) {
                assertEquals(u[i] >= (float) 0.3, mask[i], dt + " mask " + i);
                double want = mask[i] ? Tensor.full(xs[i] * scale, dt, Device.CPU).item() : 0;
                assertEquals(want, y[i], 0.0, dt + " y " + i);
                kept += mask[i] ? 1 : 0;
            }
            assertTrue(kept > 30 && kept < 60, dt + ": kept " + kept + " of 63 at p = 0.3");
            assertEquals(dt, r.output().dtype());
        }
    }

    @Test void backwardIsTheMaskTimesTheScale() {
        Tensor x = Tensor.randn(new Generator(5), DType.FLOAT64, 4, 6);
        var op = new DropoutOp(0.5, KEY);
        Tensor g = Tensor.randn(new Generator(6), DType.FLOAT64, 4, 6);
        boolean[] mask = bools(FusedKernels.forward(op, new Tensor[] {x}).state()[0]);
        double[] gs = g.toDoubleArray(), dx = backward(op, x, g).toDoubleArray();
        for (int i = 0; i < mask.length; i++) assertEquals(mask[i] ? gs[i] * 2 : 0, dx[i], 0.0, "dx " + i);
    }

    @Test void theSameKeyGivesTheSameMaskAndDrawnTakesOneValueOfTheStream() {
        Tensor x = Tensor.ones(DType.FLOAT32, 50);
        assertArrayEquals(new DropoutOp(0.4, KEY).apply(x).toFloatArray(), new DropoutOp(0.4, KEY).apply(x).toFloatArray());
        Generator g = new Generator(11), ref = new Generator(11);
        assertEquals(ref.nextLong(), DropoutOp.drawn(0.4, g).key(), "the key is the generator's next value");
        assertEquals(ref.nextLong(), g.nextLong(), "and only one value was taken");
    }

    @Test void keepIsTheMaskTheOpApplies() {
        var op = new DropoutOp(0.35, KEY);
        Tensor mask = FusedKernels.forward(op, new Tensor[] {Tensor.ones(DType.FLOAT32, 5, 8)}).state()[0];
        assertArrayEquals(bools(mask), bools(op.keep(Device.CPU, 5, 8)), "tensor parallelism slices this mask");
    }

    @Test void emptyAndZeroDimInputs() {
        FusedOp.Result empty = FusedKernels.forward(new DropoutOp(0.5, KEY), new Tensor[] {Tensor.zeros(0, 3)});
        assertArrayEquals(new int[] {0, 3}, empty.output().shape());
        assertArrayEquals(new int[] {0, 3}, empty.state()[0].shape());
        Tensor scalar = new DropoutOp(0.5, KEY).apply(Tensor.full(3, DType.FLOAT32, Device.CPU));
        assertEquals(0, scalar.dim());
        assertTrue(scalar.item() == 0 || scalar.item() == 6, "a 0-dim input is dropped or doubled, got " + scalar.item());
    }

    @Test void pZeroKeepsAllAndPOneKeepsNothingWithoutDividingByZero() {
        Tensor x = Tensor.of(new float[] {1.5f, Float.NaN, Float.POSITIVE_INFINITY, -2, -0f, 3}, 6);
        assertArrayEquals(x.toFloatArray(), new DropoutOp(0, KEY).apply(x).toFloatArray(), "p = 0: y = x (NaN and inf included)");
        var one = new DropoutOp(1, KEY);
        assertEquals(0.0, one.scale(), "p = 1: the multiplier is 0, not 1/0");
        Tensor y = one.apply(x);
        assertArrayEquals(new float[6], y.toFloatArray(), "p = 1: zeros, a dropped NaN and inf included");
        Tensor dx = backward(one, x, Tensor.of(new float[] {1, Float.NaN, 2, 3, Float.POSITIVE_INFINITY, 4}, 6));
        assertArrayEquals(new float[6], dx.toFloatArray(), "p = 1: zero gradient, even for NaN and inf gradients");
    }

    @Test void errorsNameTheOpAndTheValue() {
        for (double p : new double[] {Double.NaN, -0.1, 1.5}) {
            var e = assertThrows(IllegalArgumentException.class, () -> new DropoutOp(p, KEY));
            assertEquals("dropout: p must be in [0, 1], got " + p, e.getMessage());
        }
        var e = assertThrows(IllegalArgumentException.class, () -> new DropoutOp(0.1, KEY).apply(Tensor.arange(4)));
        assertEquals("dropout: not defined for int64 tensors; cast to a floating dtype first", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> new DropoutOp(0.1, KEY).apply(Tensor.ones(2), Tensor.ones(2)));
        assertEquals("dropout: takes one input, got 2", e.getMessage());
    }

    @Test void randintOnADeviceChecksOnTheHostAndOnTheCpuIsTheHostDraw() {
        assertArrayEquals(Tensor.randint(new Generator(2), -5, 9, 40).toLongArray(), Tensor.randint(new Generator(2), -5, 9, Device.CPU, 40).toLongArray());
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.randint(new Generator(2), 3, 3, Device.CPU, 4));
        assertEquals("randint: low 3 must be less than high 3", e.getMessage());
        long[] wide = Tensor.randint(new Generator(2), Long.MIN_VALUE, Long.MAX_VALUE, Device.CPU, 64).toLongArray();
        int negative = 0;
        for (long v : wide) negative += v < 0 ? 1 : 0;
        assertTrue(negative > 10 && negative < 54, "the whole int64 range is drawable: " + negative + " of 64 negative");
        assertNull(Backends.of(Device.CPU).randint(1, 0, 10, new int[] {3}), "the CPU backend has no device generator");
    }

    /** The op's gradient for x from its forward's state, as the tape would run it (the tensor module has no autograd engine). */
    private static Tensor backward(DropoutOp op, Tensor x, Tensor g) {
        FusedOp.Result r = FusedKernels.forward(op, new Tensor[] {x});
        return FusedKernels.backward(op, new LayerNormTest.AllSaved(new Tensor[] {x}, r.output(), r.state()), g)[0];
    }

    private static boolean[] bools(Tensor mask) {
        long[] v = mask.toLongArray();
        boolean[] b = new boolean[v.length];
        for (int i = 0; i < v.length; i++) b[i] = v[i] != 0;
        return b;
    }
}
