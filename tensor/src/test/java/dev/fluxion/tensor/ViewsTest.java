package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertThrowsWith;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** reshape/view/flatten, transpose/permute, slice/select/narrow, squeeze/unsqueeze, expand, contiguous/copy. */
class ViewsTest {
    private static Tensor range(int... shape) {
        return Tensor.arange(0, Shape.numel(shape), 1, DType.FLOAT32).reshape(shape);
    }

    @Test void reshapeOfContiguousIsAView() {
        Tensor x = range(2, 3, 4);
        Tensor r = x.reshape(4, -1);
        assertShape(r, 4, 6);
        assertSame(x.storage(), r.storage());
        assertArrayEquals(new long[] {6, 1}, r.stride());
        assertShape(x.reshape(-1), 24);
        assertShape(x.view(2, 12), 2, 12);
        assertShape(x.flatten(), 24);
        assertShape(x.flatten(1, 2), 2, 12);
        assertShape(x.flatten(0, 1), 6, 4);
        assertShape(Tensor.scalar(1).flatten(), 1);
        assertShape(Tensor.scalar(1).reshape(1, 1), 1, 1);
        assertShape(Tensor.zeros(0, 3).reshape(3, -1, 5), 3, 0, 5);
        assertEquals(21, x.reshape(6, 4).get(5, 1));
    }

    @Test void reshapeOfNonContiguousCopiesWhileViewThrows() {
        Tensor x = range(3, 4);
        Tensor t = x.t();
        assertFalse(t.isContiguous());
        Tensor flat = t.reshape(12);
        assertNotSame(x.storage(), flat.storage(), "reshape of a transpose must copy");
        assertValues(flat, new int[] {12}, 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11);
        assertThrowsWith(IllegalArgumentException.class, () -> t.view(12), "view", "[4, 3]", "[1, 4]", "[12]", "reshape()");
        // a non-contiguous layout that can still be viewed: split a dim of a row slice
        Tensor rows = range(4, 6).slice(0, 0, 4, 2);      // rows 0 and 2: strides [12, 1]
        Tensor v = rows.view(2, 2, 3);
        assertSame(rows.storage(), v.storage());
        assertArrayEquals(new long[] {12, 3, 1}, v.stride());
        assertValues(v, new int[] {2, 2, 3}, 0, 1, 2, 3, 4, 5, 12, 13, 14, 15, 16, 17);
        Tensor expanded = Tensor.of(1f, 2f).expand(3, 2);
        Tensor er = expanded.reshape(3, 2, 1);            // size-1 dims can be added to any layout without a copy
        assertSame(expanded.storage(), er.storage());
        assertValues(expanded.reshape(6), 1, 2, 1, 2, 1, 2);
    }

    @Test void transposeAndPermute() {
        Tensor x = range(2, 3, 4);
        Tensor p = x.permute(2, 0, 1);
        assertShape(p, 4, 2, 3);
        assertArrayEquals(new long[] {1, 12, 4}, p.stride());
        assertSame(x.storage(), p.storage());
        assertEquals(x.get(1, 2, 3), p.get(3, 1, 2));
        assertEquals(x.get(1, 0, 2), p.get(2, 1, 0));
        Tensor back = p.permute(1, 2, 0);
        assertArrayEquals(x.stride(), back.stride());
        assertTrue(back.isContiguous());
        Tensor tr = x.transpose(0, -1);
        assertShape(tr, 4, 3, 2);
        assertEquals(x.get(1, 2, 0), tr.get(0, 2, 1));
        assertShape(x.permute(-1, -3, -2), 4, 2, 3);
        Tensor m = range(2, 3);
        assertValues(m.t(), new int[] {3, 2}, 0, 3, 1, 4, 2, 5);
        Tensor v = Tensor.of(1f, 2f);
        assertSame(v, v.t());
        Tensor s = Tensor.scalar(1);
        assertSame(s, s.transpose(0, 0));
    }

    @Test void sliceSelectNarrow() {
        Tensor x = range(4, 5);
        Tensor s = x.slice(1, 1, 5, 2);                   // columns 1 and 3
        assertShape(s, 4, 2);
        assertArrayEquals(new long[] {5, 2}, s.stride());
        assertEquals(1, s.offset());
        assertValues(s, 1, 3, 6, 8, 11, 13, 16, 18);
        assertValues(x.slice(0, -2, 100), new int[] {2, 5}, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19);   // clamped end
        assertShape(x.slice(0, 3, 1), 0, 5);              // empty when start >= end
        assertValues(x.slice(1, 0, 5, 3).slice(0, 1, 4, 2), new int[] {2, 2}, 5, 8, 15, 18);
        assertValues(x.select(0, -1), new int[] {5}, 15, 16, 17, 18, 19);
        assertValues(x.select(1, 2), new int[] {4}, 2, 7, 12, 17);
        assertValues(x.narrow(1, 3, 2), new int[] {4, 2}, 3, 4, 8, 9, 13, 14, 18, 19);
        assertEquals(18, x.get(-1, -2));
        assertValues(x.t().select(0, 1).slice(0, 1, 4, 2), new int[] {2}, 6, 16);
    }

    @Test void squeezeUnsqueeze() {
        Tensor x = Tensor.zeros(1, 3, 1, 2);
        assertShape(x.squeeze(), 3, 2);
        assertShape(x.squeeze(0), 3, 1, 2);
        assertShape(x.squeeze(1), 1, 3, 1, 2);            // not size 1: unchanged
        assertShape(x.squeeze(-2), 1, 3, 2);
        assertShape(x.unsqueeze(0), 1, 1, 3, 1, 2);
        assertShape(x.unsqueeze(-1), 1, 3, 1, 2, 1);
        assertShape(x.unsqueeze(4), 1, 3, 1, 2, 1);
        assertShape(Tensor.scalar(2).unsqueeze(0), 1);
        assertShape(Tensor.ones(1).squeeze(), new int[0]);
        Tensor t = range(3, 4).t().unsqueeze(1);           // unsqueeze of a non-contiguous tensor stays a view
        assertShape(t, 4, 1, 3);
        assertEquals(range(3, 4).get(2, 1), t.get(1, 0, 2));
    }

    @Test void expandSharesStorageWithZeroStrides() {
        Tensor x = Tensor.of(new float[] {1, 2, 3}, 3, 1);
        Tensor e = x.expand(2, 3, 4);
        assertShape(e, 2, 3, 4);
        assertArrayEquals(new long[] {0, 1, 0}, e.stride());
        assertSame(x.storage(), e.storage());
        assertValues(e.select(0, 1), new int[] {3, 4}, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3);
        assertShape(x.expand(-1, 5), 3, 5);
        assertSame(x, x.expand(3, 1));
        Tensor c = e.contiguous();
        assertNotSame(x.storage(), c.storage());
        assertTrue(c.isContiguous());
        assertEquals(24, c.numel());
    }

    @Test void viewsShareStorage() {
        Tensor base = Tensor.zeros(3, 4);
        base.slice(1, 1, 4, 2).copy_(Tensor.of(new float[] {1, 2, 3, 4, 5, 6}, 3, 2));
        assertValues(base, new int[] {3, 4}, 0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6);
        base.select(0, 1).fill_(9);
        assertValues(base.select(0, 1), 9, 9, 9, 9);
        base.t().select(0, 0).copy_(Tensor.of(-1f, -2f, -3f));   // column 0 through the transpose
        assertValues(base, new int[] {3, 4}, -1, 1, 0, 2, -2, 9, 9, 9, -3, 5, 0, 6);
        Tensor r = base.reshape(12);
        r.narrow(0, 11, 1).fill_(42);
        assertEquals(42, base.get(2, 3));
        Tensor d = base.detach();
        assertSame(base.storage(), d.storage());
        int version = base.storage().version();
        d.zero_();
        assertEquals(0, base.sum().item());
        assertTrue(base.storage().version() > version, "a write through any view bumps the shared version");
    }

    @Test void copyFromAnOverlappingViewReadsTheOriginalValues() {
        Tensor x = range(100, 100);                         // larger than one kernel chunk
        Tensor want = x.t().contiguous();
        x.copy_(x.t());
        assertValues(x, new int[] {100, 100}, want.toDoubleArray());
        Tensor y = Tensor.arange(0, 5000, 1, DType.FLOAT32);
        y.narrow(0, 1, 4999).copy_(y.narrow(0, 0, 4999));  // shift right by one
        assertEquals(0, y.get(0));
        assertEquals(0, y.get(1));
        assertEquals(4998, y.get(4999));
    }

    @Test void contiguousCopiesOnlyWhenNeeded() {
        Tensor x = range(3, 4);
        assertSame(x, x.contiguous());
        Tensor rows = x.narrow(0, 1, 2);                   // contiguous, at an offset
        assertTrue(rows.isContiguous());
        assertSame(rows, rows.contiguous());
        Tensor col = x.narrow(1, 2, 1);                    // [3, 1] with stride 4: not contiguous
        assertFalse(col.isContiguous());
        Tensor one = x.narrow(1, 2, 1).t();                // [1, 3] with strides [1, 4]: not contiguous either
        assertFalse(one.isContiguous());
        Tensor c = col.contiguous();
        assertNotSame(x.storage(), c.storage());
        assertValues(c, new int[] {3, 1}, 2, 6, 10);
        Tensor size1 = Tensor.zeros(1, 4).expand(1, 4);    // size-1 dims may have any stride
        assertTrue(size1.isContiguous());
        Tensor copy = x.copy();
        assertNotSame(x.storage(), copy.storage(), "copy() never shares");
        copy.fill_(0);
        assertEquals(66, x.sum().item());
    }

    @Test void asStridedChecksBounds() {
        Tensor x = range(2, 3);
        Tensor d = x.asStrided(new int[] {2, 2}, new long[] {1, 2}, 1);
        assertValues(d, new int[] {2, 2}, 1, 3, 2, 4);
        assertThrowsWith(IndexOutOfBoundsException.class, () -> x.asStrided(new int[] {3, 3}, new long[] {3, 1}, 0),
                "asStrided", "[3, 3]", "[3, 1]", "reaches elements 0..8", "6");
        assertThrowsWith(IllegalArgumentException.class, () -> x.asStrided(new int[] {2}, new long[] {1, 1}, 0), "asStrided", "differ in rank");
        assertShape(x.asStrided(new int[] {0, 5}, new long[] {100, 100}, 0), 0, 5);
    }

    @Test void viewsOfEveryDtype() {
        for (DType dt : DType.values()) {
            Tensor x = Tensor.of(new long[] {0, 1, 1, 0, 1, 1}, 2, 3).to(dt);
            assertLongs(x.t().contiguous(), 0, 0, 1, 1, 1, 1);
            assertLongs(x.slice(1, 0, 3, 2).reshape(4), 0, 1, 0, 1);
            assertLongs(x.expand(2, 2, 3).select(0, 1).t().reshape(-1), 0, 0, 1, 1, 1, 1);
            assertEquals(dt, x.t().contiguous().dtype());
        }
    }
}
