package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * One uint8 tensor of 3e9 elements (3 GB, more than 2^31 elements and more than one ByteBuffer): create,
 * fill, slice past 2^31 and across the 1 GiB chunk boundaries, sum (int64, as torch), read back. Tagged
 * "large": surefire runs it in its own JVM after the module's other tests (see tensor/pom.xml).
 */
@Tag("large")
class LargeTensorTest {
    private static final int ROWS = 3, COLS = 1_000_000_000;
    private static final long N = (long) ROWS * COLS;
    private static Tensor x;   // [3, 1e9] uint8

    @BeforeAll static void create() {
        CpuMemory.emptyCache();                 // leave direct memory to this tensor
        x = Tensor.zeros(DType.UINT8, ROWS, COLS);
    }

    @AfterAll static void free() { x.close(); }

    private static long sum(Tensor t) {
        Tensor s = t.sum();
        assertEquals(DType.INT64, s.dtype(), "sum of uint8 is int64, as torch");
        return (long) s.item();
    }

    @Test void createFillSliceSum() {
        assertEquals(N, x.numel());
        assertArrayEquals(new long[] {COLS, 1}, x.stride());
        assertEquals(0, sum(x), "zeros");

        x.fill_(7);
        assertEquals(7 * N, sum(x), "fill_ reaches every element, past 2^31");

        long start = 2_500_000_000L - 2L * COLS;                          // element 2.5e9 = [2, 5e8]
        Tensor tail = x.select(0, 2).narrow(0, (int) start, 1000);
        assertEquals(2_500_000_000L, tail.offset(), "a view's offset past 2^31");
        tail.fill_(200);
        int edge = (int) ((1L << 30) - COLS);                              // element 2^30 = [1, 73741824]: the first chunk boundary
        x.select(0, 1).narrow(0, edge - 5, 10).fill_(9);                    // a run split over two chunks
        x.narrow(1, COLS - 4, 4).fill_(1);                                 // strided: [3, 4] with a row stride of 1e9
        long expected = 7 * N + (200 - 7) * 1000L + (9 - 7) * 10L + (1 - 7) * 12L;
        assertEquals(expected, sum(x));
        assertEquals((200 - 7) * 1000L + 7 * 1000L, sum(tail), "sum of a slice past 2^31");

        assertEquals(200, x.get(2, (int) start));
        assertEquals(200, x.get(2, (int) start + 999));
        assertEquals(7, x.get(2, (int) start + 1000));
        assertEquals(7, x.get(2, (int) start - 1));
        assertEquals(9, x.get(1, edge - 1));
        assertEquals(9, x.get(1, edge));
        assertEquals(7, x.get(1, edge + 5));
        assertEquals(1, x.get(2, COLS - 1), "the last element, index 3e9-1");
        assertEquals(7, x.get(2, COLS - 5));
    }

    @Test void stridesAndErrorsNameTheLimit() {
        assertEquals(N, x.reshape(1, ROWS, COLS).stride()[0], "a stride past 2^31 (the size-1 dim over all elements)");
        Tensor t = x.permute(1, 0);                                        // [1e9, 3], strides [1, 1e9]
        assertArrayEquals(new long[] {1, COLS}, t.stride());

        var flat = assertThrows(UnsupportedOperationException.class, x::flatten);
        assertTrue(flat.getMessage().contains("reshape") && flat.getMessage().contains("3000000000") && flat.getMessage().contains("2^31-1"), flat.getMessage());
        var array = assertThrows(UnsupportedOperationException.class, x::toFloatArray);
        assertTrue(array.getMessage().contains("toFloatArray") && array.getMessage().contains("3000000000"), array.getMessage());
        CpuStorage s = (CpuStorage) x.storage();
        var single = assertThrows(UnsupportedOperationException.class, () -> s.floats("matmul"));
        assertTrue(single.getMessage().contains("matmul") && single.getMessage().contains("3 chunks"), single.getMessage());
        assertTrue(s.hostBuffer().isEmpty(), "no single host buffer over 2 GiB");
    }
}
