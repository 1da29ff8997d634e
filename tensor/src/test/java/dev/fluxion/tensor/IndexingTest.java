package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** indexSelect, gather, scatterAdd, embedding, maskedFill, tril/triu, oneHot, get. */
class IndexingTest {
    private static Tensor range(int... shape) {
        return Tensor.arange(0, Shape.numel(shape), 1, DType.FLOAT32).reshape(shape);
    }

    private static Tensor ids(long... v) { return Tensor.of(v, v.length); }

    @Test void indexSelect() {
        Tensor x = range(3, 4);
        assertValues(x.indexSelect(0, ids(2, 0, 2)), new int[] {3, 4}, 8, 9, 10, 11, 0, 1, 2, 3, 8, 9, 10, 11);
        assertValues(x.indexSelect(1, ids(3, 1)), new int[] {3, 2}, 3, 1, 7, 5, 11, 9);
        assertValues(x.indexSelect(-1, Tensor.of(new int[] {0}, 1)), new int[] {3, 1}, 0, 4, 8);    // int32 indices
        assertValues(x.indexSelect(0, Tensor.scalar(1, DType.INT64)), new int[] {1, 4}, 4, 5, 6, 7);
        assertShape(x.indexSelect(0, Tensor.zeros(DType.INT64, 0)), 0, 4);
        assertValues(x.t().indexSelect(0, ids(1)), new int[] {1, 3}, 1, 5, 9);                      // strided input
        assertValues(x.indexSelect(1, ids(0, 1, 2, 3).slice(0, 0, 4, 2)), new int[] {3, 2}, 0, 2, 4, 6, 8, 10);
        // negative indices are refused, as torch.index_select does (issue 18: a silent last row hid bad ids)
        var e = org.junit.jupiter.api.Assertions.assertThrows(IndexOutOfBoundsException.class, () -> x.indexSelect(0, ids(-1)));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("index -1 is out of range for dim 0 of size 3"), e.getMessage());
    }

    @Test void gather() {
        Tensor x = range(2, 3);                            // [[0, 1, 2], [3, 4, 5]]
        Tensor i0 = Tensor.of(new long[] {1, 0, 1, 0, 0, 0}, 2, 3);
        assertValues(x.gather(0, i0), new int[] {2, 3}, 3, 1, 5, 0, 1, 2);
        Tensor i1 = Tensor.of(new long[] {2, 2, 0, 1}, 2, 2);
        assertValues(x.gather(1, i1), new int[] {2, 2}, 2, 2, 3, 4);
        assertValues(x.t().gather(0, Tensor.of(new long[] {2, 0}, 1, 2)), new int[] {1, 2}, 2, 3);
        assertValues(x.gather(1, Tensor.of(new int[] {1, 1, 1, 0}, 2, 2)), new int[] {2, 2}, 1, 1, 4, 3);
    }

    @Test void indexingCopiesInt64Exactly() {
        long big = (1L << 62) + 1;                         // not representable as a double
        Tensor x = Tensor.of(new long[] {big, 7, -big, 3}, 2, 2);
        assertLongs(x.indexSelect(0, ids(1, 0)), -big, 3, big, 7);
        assertLongs(x.gather(1, Tensor.of(new long[] {0, 0, 1, 0}, 2, 2)), big, big, 3, -big);
        assertLongs(Tensor.embedding(x, ids(0)), big, 7);
        assertLongs(x.maskedFill(Tensor.of(new boolean[] {false, true}, 2), 1), big, 1, -big, 1);
        assertLongs(x.tril(), big, 0, -big, 3);
        assertLongs(Tensor.where(Tensor.of(new boolean[] {true, false}, 2), x, x.neg()), big, -7, -big, -3);
    }

    @Test void scatterAdd() {
        Tensor x = Tensor.zeros(3, 2);
        Tensor index = Tensor.of(new long[] {0, 2, 0, 0, 1, 2}, 3, 2);
        Tensor src = Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2);
        Tensor out = x.scatterAdd(0, index, src);
        assertValues(out, new int[] {3, 2}, 4, 4, 5, 0, 0, 8);   // repeated targets accumulate
        assertValues(x, new int[] {3, 2}, 0, 0, 0, 0, 0, 0);      // out of place
        Tensor base = Tensor.ones(2, 4);
        Tensor r = base.scatterAdd(1, Tensor.of(new long[] {3, 3, 0}, 1, 3), Tensor.of(new float[] {1, 2, 3}, 1, 3));
        assertValues(r, new int[] {2, 4}, 4, 1, 1, 4, 1, 1, 1, 1);
        Tensor li = Tensor.of(new long[] {5, 5}, 2);
        assertLongs(li.scatterAdd(0, ids(1, 1, 0), Tensor.of(new long[] {1, 2, 3}, 3)), 8, 8);
        Tensor strided = Tensor.zeros(2, 3).t();           // non-contiguous input
        assertValues(strided.scatterAdd(0, Tensor.of(new long[] {2, 2}, 1, 2), Tensor.of(new float[] {1, 1}, 1, 2)),
                new int[] {3, 2}, 0, 0, 0, 0, 1, 1);
    }

    @Test void embedding() {
        Tensor w = range(5, 3);
        Tensor e = Tensor.embedding(w, Tensor.of(new long[] {4, 0, 4, 1}, 2, 2));
        assertShape(e, 2, 2, 3);
        assertValues(e, 12, 13, 14, 0, 1, 2, 12, 13, 14, 3, 4, 5);
        assertValues(Tensor.embedding(w, Tensor.scalar(2, DType.INT64)), new int[] {3}, 6, 7, 8);
        assertValues(Tensor.embedding(w.t().contiguous().t(), ids(1)), new int[] {1, 3}, 3, 4, 5);
    }

    @Test void largeEmbeddingLookupRunsInParallel() {
        Tensor w = Tensor.randn(new Generator(1), 100, 8);
        int n = 50_000;
        long[] v = new long[n];
        for (int i = 0; i < n; i++) v[i] = (i * 37L) % 100;
        Tensor e = Tensor.embedding(w, Tensor.of(v, 250, 200));
        assertShape(e, 250, 200, 8);
        float[] got = e.toFloatArray(), table = w.toFloatArray();
        for (int i = 0; i < n; i++)
            for (int j = 0; j < 8; j++) assertEquals(table[(int) v[i] * 8 + j], got[i * 8 + j], "id " + i);
    }

    @Test void maskedFill() {
        Tensor x = range(2, 3);
        Tensor mask = Tensor.of(new boolean[] {true, false, true}, 3);
        assertValues(x.maskedFill(mask, -1), new int[] {2, 3}, -1, 1, -1, -1, 4, -1);
        Tensor col = Tensor.of(new boolean[] {false, true}, 2, 1);
        assertValues(x.maskedFill(col, Double.NEGATIVE_INFINITY), new int[] {2, 3}, 0, 1, 2,
                Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY, Double.NEGATIVE_INFINITY);
        assertLongs(Tensor.of(new long[] {1, 2, 3}, 3).maskedFill(mask, 9), 9, 2, 9);
        assertValues(x.t().maskedFill(Tensor.of(new boolean[] {true, false}, 2), 0), new int[] {3, 2}, 0, 3, 0, 4, 0, 5);
    }

    @Test void trilTriu() {
        Tensor x = range(3, 4).add(1);
        assertValues(x.tril(), new int[] {3, 4}, 1, 0, 0, 0, 5, 6, 0, 0, 9, 10, 11, 0);
        assertValues(x.triu(), new int[] {3, 4}, 1, 2, 3, 4, 0, 6, 7, 8, 0, 0, 11, 12);
        assertValues(x.tril(1), new int[] {3, 4}, 1, 2, 0, 0, 5, 6, 7, 0, 9, 10, 11, 12);
        assertValues(x.triu(-1), new int[] {3, 4}, 1, 2, 3, 4, 5, 6, 7, 8, 0, 10, 11, 12);
        assertValues(x.tril(-3), new int[] {3, 4}, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0);
        Tensor b = Tensor.ones(2, 2, 2);
        assertValues(b.triu(1), new int[] {2, 2, 2}, 0, 1, 0, 0, 0, 1, 0, 0);
        assertValues(x.t().tril(), new int[] {4, 3}, 1, 0, 0, 2, 6, 0, 3, 7, 11, 4, 8, 12);
        Tensor causal = Tensor.ones(DType.BOOL, 3, 3).tril();
        assertEquals(DType.BOOL, causal.dtype());
        assertLongs(causal, 1, 0, 0, 1, 1, 0, 1, 1, 1);
    }

    @Test void oneHot() {
        Tensor h = Tensor.of(new long[] {2, 0, 1, 2}, 2, 2).oneHot(3);
        assertShape(h, 2, 2, 3);
        assertEquals(DType.INT64, h.dtype());
        assertLongs(h, 0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 1);
        assertLongs(Tensor.scalar(1, DType.INT64).oneHot(2), 0, 1);
        assertLongs(ids(3, 1, 0).slice(0, 0, 3, 2).oneHot(4), 0, 0, 0, 1, 1, 0, 0, 0);
    }

    @Test void elementAccess() {
        Tensor x = range(2, 3, 4);
        assertEquals(23, x.get(1, 2, 3));
        assertEquals(12, x.get(-1, 0, 0));
        assertEquals(7, x.permute(2, 1, 0).get(3, 1, 0));
        assertEquals(2.5, Tensor.scalar(2.5).get());
        assertEquals(2.5, Tensor.scalar(2.5).item());
    }
}
