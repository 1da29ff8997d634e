package dev.fluxion.tensor;

import dev.fluxion.tensor.TensorAssert.Tol;
import org.junit.jupiter.api.Test;

import static dev.fluxion.tensor.TensorAssert.assertClose;
import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Factories, reading values back, and the random generator. */
class CreationTest {

    @Test void filledTensors() {
        assertValues(Tensor.zeros(2, 2), new int[] {2, 2}, 0, 0, 0, 0);
        assertEquals(DType.FLOAT32, Tensor.zeros(3).dtype());
        assertEquals(Device.CPU, Tensor.zeros(3).device());
        assertLongs(Tensor.ones(DType.INT8, 3), 1, 1, 1);
        assertLongs(Tensor.zeros(DType.BOOL, Device.CPU, 2), 0, 0);
        assertValues(Tensor.full(2.5, 3), 2.5, 2.5, 2.5);
        assertValues(Tensor.full(-7, DType.INT32, Device.CPU, 2), -7, -7);
        assertValues(Tensor.scalar(4), new int[0], 4);
        assertEquals(DType.FLOAT64, Tensor.scalar(4, DType.FLOAT64).dtype());
        Tensor like = Tensor.onesLike(Tensor.zeros(DType.BFLOAT16, 2, 3));
        assertEquals(DType.BFLOAT16, like.dtype());
        assertValues(like, new int[] {2, 3}, 1, 1, 1, 1, 1, 1);
        assertValues(Tensor.zerosLike(Tensor.ones(2)), 0, 0);
        assertLongs(Tensor.fullLike(Tensor.zeros(DType.INT64, 2), 9), 9, 9);
        assertShape(Tensor.zeros(0, 5), 0, 5);
        Tensor e = Tensor.empty(DType.FLOAT16, Device.CPU, 4, 2);
        assertShape(e, 4, 2);
        assertEquals(DType.FLOAT16, e.dtype());
        assertTrue(e.isContiguous());
        assertEquals(0, e.offset());
    }

    @Test void ranges() {
        Tensor a = Tensor.arange(5);
        assertEquals(DType.INT64, a.dtype());
        assertLongs(a, 0, 1, 2, 3, 4);
        assertEquals(DType.INT64, Tensor.arange(1, 7, 2).dtype());
        assertLongs(Tensor.arange(1, 7, 2), 1, 3, 5);
        assertLongs(Tensor.arange(5, 0, -2), 5, 3, 1);
        Tensor f = Tensor.arange(0, 1, 0.25);
        assertEquals(DType.FLOAT32, f.dtype());
        assertValues(f, 0, 0.25, 0.5, 0.75);
        assertValues(Tensor.arange(0, 3, 1, DType.FLOAT64), 0, 1, 2);
        assertShape(Tensor.arange(2, 2, 1), 0);
        Tensor l = Tensor.linspace(-1, 1, 5);
        assertValues(l, -1, -0.5, 0, 0.5, 1);
        Tensor l3 = Tensor.linspace(0, 1, 3, DType.FLOAT64);
        assertValues(l3, 0, 0.5, 1);
        Tensor odd = Tensor.linspace(0.1, 0.7, 7, DType.FLOAT64);
        assertEquals(0.7, odd.get(6));                      // the last value is exactly end
        assertEquals(0.1, odd.get(0));
        assertValues(Tensor.linspace(3, 9, 1), 3);
        assertShape(Tensor.linspace(0, 1, 0), 0);
        assertValues(Tensor.eye(3), new int[] {3, 3}, 1, 0, 0, 0, 1, 0, 0, 0, 1);
        assertLongs(Tensor.eye(2, 3, DType.INT64), 1, 0, 0, 0, 1, 0);
    }

    @Test void fromArraysAndBack() {
        Tensor f = Tensor.of(new float[] {1.5f, -2, 3, 4}, 2, 2);
        assertEquals(DType.FLOAT32, f.dtype());
        assertArrayEquals(new float[] {1.5f, -2, 3, 4}, f.toFloatArray());
        assertArrayEquals(new double[] {1.5, -2, 3, 4}, f.toDoubleArray());
        assertArrayEquals(new long[] {1, -2, 3, 4}, f.toLongArray());
        assertArrayEquals(new float[] {1.5f, 3, -2, 4}, f.t().toFloatArray());
        assertEquals(DType.FLOAT64, Tensor.of(new double[] {1}, 1).dtype());
        assertEquals(DType.INT64, Tensor.of(new long[] {1}, 1).dtype());
        assertEquals(DType.INT32, Tensor.of(new int[] {1}, 1).dtype());
        assertEquals(DType.BOOL, Tensor.of(new boolean[] {true}, 1).dtype());
        assertShape(Tensor.of(1f, 2f, 3f), 3);
        assertShape(Tensor.of(new float[] {7}), 1);
        assertShape(Tensor.of(new double[] {7}, new int[0]), new int[0]);
        long big = Long.MAX_VALUE - 1;
        assertArrayEquals(new long[] {big, Long.MIN_VALUE}, Tensor.of(new long[] {big, Long.MIN_VALUE}, 2).toLongArray());
        assertEquals(-2, f.get(0, 1));
        assertEquals(4, f.numel());
        assertEquals(2, f.dim());
        assertEquals(2, f.size(-1));
        assertSame(f, f.to(Device.CPU));
    }

    @Test void devices() {
        assertTrue(Backends.devices().contains(Device.CPU));
        assertEquals(Device.CPU, Device.best(), "no GPU backend on the tensor module's test classpath");
        assertEquals("cuda:2", Device.cuda(2).toString());
        assertEquals("cpu", Device.CPU.toString());
    }

    @Test void generatorIsReproducible() {
        Tensor a = Tensor.randn(new Generator(42), 1000), b = Tensor.randn(new Generator(42), 1000);
        assertArrayEquals(a.toFloatArray(), b.toFloatArray());
        Tensor c = Tensor.randn(new Generator(43), 1000);
        assertFalse(java.util.Arrays.equals(a.toFloatArray(), c.toFloatArray()), "different seeds give different values");
        assertArrayEquals(Tensor.rand(new Generator(7), 3, 4).toFloatArray(), Tensor.rand(new Generator(7), 3, 4).toFloatArray());
        assertArrayEquals(Tensor.randint(new Generator(7), -3, 9, 50).toLongArray(), Tensor.randint(new Generator(7), -3, 9, 50).toLongArray());
        // one generator continues its stream: two draws of 5 equal one draw of 10
        Generator g = new Generator(5);
        double[] first = Tensor.randn(g, DType.FLOAT64, 5).toDoubleArray(), second = Tensor.randn(g, DType.FLOAT64, 5).toDoubleArray();
        double[] all = Tensor.randn(new Generator(5), DType.FLOAT64, 10).toDoubleArray();
        for (int i = 0; i < 5; i++) {
            assertEquals(all[i], first[i]);
            assertEquals(all[5 + i], second[i]);
        }
        // the saved state (including the spare normal) resumes the stream exactly
        Generator h = new Generator(11);
        h.nextGaussian();
        long[] state = h.state();
        double next = h.nextGaussian(), after = h.nextGaussian();
        Generator r = new Generator(0);
        r.setState(state);
        assertEquals(next, r.nextGaussian());
        assertEquals(after, r.nextGaussian());
        // float32 and float64 draws come from the same stream
        assertClose(Tensor.randn(new Generator(9), DType.FLOAT64, 20).toDoubleArray(), Tensor.randn(new Generator(9), 20), new Tol(1e-7, 1e-7));
    }

    @Test void distributions() {
        int n = 200_000;
        Tensor x = Tensor.randn(new Generator(1), DType.FLOAT64, n);
        double mean = x.mean().item(), std = x.std().item();
        assertEquals(0, mean, 0.01, "randn mean");
        assertEquals(1, std, 0.01, "randn std");
        Tensor fraction = x.abs().lt(1).to(DType.FLOAT64).mean();      // P(|z| < 1) = 0.6827
        assertEquals(0.6827, fraction.item(), 0.005);
        Tensor u = Tensor.rand(new Generator(2), n);
        assertTrue(u.min().item() >= 0 && u.max().item() < 1, "rand in [0, 1)");
        assertEquals(0.5, u.mean().item(), 0.005);
        assertEquals(1 / 12.0, u.var().item(), 0.002);
        Tensor k = Tensor.randint(new Generator(3), -2, 3, 10_000);
        assertEquals(DType.INT64, k.dtype());
        assertEquals(-2, k.min().item());
        assertEquals(2, k.max().item());
        for (int v = -2; v <= 2; v++) assertEquals(2000, k.eq(v).sum().item(), 150, "count of " + v);
        Tensor h = Tensor.randn(new Generator(4), DType.BFLOAT16, 1000);
        assertEquals(DType.BFLOAT16, h.dtype());
        assertEquals(0, h.to(DType.FLOAT32).mean().item(), 0.1);
    }
}
