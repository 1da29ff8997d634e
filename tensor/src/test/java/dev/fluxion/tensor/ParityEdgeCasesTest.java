package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

/** The parity ops on 0-dim, empty, integer, bool and half inputs, which the PyTorch reference file does not cover. */
class ParityEdgeCasesTest {
    @Test
    void integerAndBoolInputs() {
        Tensor i = Tensor.of(new int[] {3, -1, 7, 7, 2, 0}, 2, 3);
        var m = i.maxWithIndices(1, false);
        assertEquals(DType.INT32, m.values().dtype());
        assertLongs(m.values(), 7, 7);
        assertLongs(m.indices(), 2, 0);
        assertLongs(i.sort(1, true).values(), 7, 3, -1, 7, 2, 0);
        assertEquals(DType.INT64, Tensor.of(new boolean[] {true, false, true}, 3).cumsum(0).dtype());
        assertLongs(Tensor.of(new boolean[] {true, false, true}, 3).cumsum(0), 1, 1, 2);
        assertLongs(i.prod(1, false), -21, 0);
        assertLongs(i.floor(), 3, -1, 7, 7, 2, 0);
        assertLongs(i.pad(new int[] {1, 0}, PadMode.CONSTANT, 9), 9, 3, -1, 7, 9, 7, 2, 0);
        assertLongs(Tensor.of(new long[] {2, 0, 2}, 3).unique(), 0, 2);
    }

    @Test
    void zeroDimAndEmptyInputs() {
        Tensor s = Tensor.scalar(2.5);
        assertShape(s.cumsum(0));
        assertValues(s.cumprod(0), 2.5);
        assertValues(s.prod(), 2.5);
        assertShape(s.sort(0, false).values());
        assertShape(s.nonzero(), 1, 0);
        Tensor e = Tensor.zeros(2, 0);
        assertValues(e.prod(1, false), new int[] {2}, 1, 1);
        assertShape(e.cumsum(1), 2, 0);
        assertShape(e.sort(1, false).values(), 2, 0);
        assertShape(e.nonzero(), 0, 2);
        assertShape(Tensor.zeros(0).unique(), 0);
        assertShape(Tensor.zeros(3, 4).diagonal(5, 0, 1), 0);
        assertShape(Tensor.zeros(2, 3).repeat(0, 1), 0, 3);
        assertShape(Tensor.einsum("ij,jk->ik", Tensor.zeros(2, 0), Tensor.zeros(0, 3)), 2, 3);
    }

    @Test
    void halfPrecisionRoundsOnce() {
        Tensor h = Tensor.of(new float[] {0.5f, 1.5f, 2.5f, -0.001f}).to(DType.FLOAT16);
        assertEquals(DType.FLOAT16, h.round().dtype());
        assertValues(h.round().to(DType.FLOAT32), 0, 2, 2, -0.0);
        assertEquals(DType.BFLOAT16, h.to(DType.BFLOAT16).log1p().dtype());
    }

    @Test
    void signedZerosAreEqualInSorting() {
        Tensor z = Tensor.of(-0.0f, 0.0f, -0.0f);
        assertLongs(z.argsort(0, false), 0, 1, 2);               // stable, as torch.sort: -0.0 == 0.0
        assertShape(z.unique(), 1);
    }

    @Test
    void defaultsAndScalarWrites() {
        Tensor x = Tensor.of(-2f, -0.5f, 0.5f, 3f);
        assertValues(x.leakyRelu(), -0.02f, -0.005f, 0.5f, 3f);
        assertValues(x.hardtanh(), -1, -0.5f, 0.5f, 1);
        assertEquals(Math.expm1(-2), x.elu().get(0), 1e-7);
        assertValues(x.indexPut(x.gt(0), 9), -2f, -0.5f, 9, 9);
    }

    @Test
    void copiesDoNotAliasTheInput() {
        Tensor x = Tensor.of(1f, 2f, 3f);
        Tensor f = x.flip(0), r = x.roll(3, 0), p = x.pad(0, 0);
        assertNotSame(x.storage(), r.storage());
        assertNotSame(x.storage(), p.storage());
        x.fill_(0);
        assertValues(f, 3, 2, 1);
        assertValues(r, 1, 2, 3);
        assertValues(p, 1, 2, 3);
    }
}
