package dev.fluxion.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IterTest {
    @Test void contiguousCollapsesToOneDim() {
        Iter it = Iter.of(new int[] {2, 3, 4}, new long[] {12, 4, 1});
        assertEquals(1, it.rank);
        assertArrayEquals(new int[] {24}, it.shape);
        assertTrue(it.contiguous(0));
    }

    @Test void broadcastKeepsZeroStrides() {
        // a [3, 4] + b [4] broadcast to [3, 4]
        Iter it = Iter.of(new int[] {3, 4}, new long[] {4, 1}, new long[] {0, 1});
        assertEquals(2, it.rank);
        assertTrue(it.contiguous(0));
        assertFalse(it.contiguous(1));
        assertFalse(it.broadcastScalar(1));
        Iter s = Iter.of(new int[] {3, 4}, new long[] {4, 1}, new long[] {0, 0});
        assertTrue(s.broadcastScalar(1));
        assertEquals(CudaElementwise.B_SCALAR, CudaElementwise.mode(s));
        assertEquals(CudaElementwise.STRIDED, CudaElementwise.mode(it));
    }

    @Test void transposeDoesNotMerge() {
        Iter it = Iter.of(new int[] {4, 3}, new long[] {1, 4});
        assertEquals(2, it.rank);
        assertFalse(it.contiguous(0));
    }

    @Test void sizeOneDimsDropAndScalarIsContiguous() {
        Iter it = Iter.of(new int[] {1, 5, 1}, new long[] {7, 1, 9});
        assertArrayEquals(new int[] {5}, it.shape);
        assertTrue(Iter.of(new int[0], new long[0]).contiguous(0));
    }

    @Test void exactKeepsEveryDim() {
        Iter it = Iter.exact(new int[] {2, 1, 3}, new long[] {3, 3, 1});
        assertEquals(3, it.rank);
        assertThrows(UnsupportedOperationException.class, () -> Iter.exact(new int[9], new long[9]));
    }

    @Test void structLayoutMatchesCommonCuh() {
        Iter it = Iter.of(new int[] {3, 4}, new long[] {4, 1}, new long[] {0, 1});
        ByteBuffer b = ByteBuffer.allocate(Iter.BYTES).order(ByteOrder.nativeOrder());
        it.writeTo(b);
        assertEquals(164, b.position());
        assertEquals(2, b.getInt(0));
        assertEquals(3, b.getInt(4));
        assertEquals(4, b.getInt(8));
        assertEquals(1, b.getInt(12));                              // unused shape slots are 1
        int stride0 = 4 + 4 * Iter.MAX_DIMS, stride1 = stride0 + 4 * Iter.MAX_DIMS;
        assertEquals(4, b.getInt(stride0));
        assertEquals(1, b.getInt(stride0 + 4));
        assertEquals(0, b.getInt(stride1));
        assertEquals(1, b.getInt(stride1 + 4));
    }

    @Test void sizesAndStridesPast32BitsAreAClearError() {
        // a contiguous [3, 1e9] merges to one dim of 3e9 elements, more than the struct's int holds
        var e = assertThrows(UnsupportedOperationException.class, () -> Iter.of(new int[] {3, 1_000_000_000}, new long[] {1_000_000_000, 1}));
        assertTrue(e.getMessage().contains("3000000000") && e.getMessage().contains("2^31-1"), e.getMessage());
        var s = assertThrows(UnsupportedOperationException.class, () -> Iter.exact(new int[] {2, 2}, new long[] {3_000_000_000L, 1}));
        assertTrue(s.getMessage().contains("3000000000"), s.getMessage());
    }

    @Test void tooManyDimsIsAClearError() {
        int[] shape = {2, 2, 2, 2, 2, 2, 2, 2, 2};
        long[] strides = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536};   // every dim gapped: nothing merges
        var e = assertThrows(UnsupportedOperationException.class, () -> Iter.of(shape, strides));
        assertTrue(e.getMessage().contains("contiguous()"), e.getMessage());
    }
}
