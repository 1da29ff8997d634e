package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.List;

import static dev.fluxion.tensor.TensorAssert.assertLongs;
import static dev.fluxion.tensor.TensorAssert.assertShape;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

/** cat, stack, split (by size and by sizes) and chunk. */
class JoinsTest {
    private static Tensor range(int start, int... shape) {
        return Tensor.arange(start, start + Shape.numel(shape), 1, DType.FLOAT32).reshape(shape);
    }

    @Test void catAlongEachDim() {
        Tensor a = range(0, 2, 2), b = range(10, 1, 2), c = range(20, 2, 1);
        assertValues(Tensor.cat(List.of(a, b), 0), new int[] {3, 2}, 0, 1, 2, 3, 10, 11);
        assertValues(Tensor.cat(List.of(a, c), 1), new int[] {2, 3}, 0, 1, 20, 2, 3, 21);
        assertValues(Tensor.cat(List.of(a, c, a), -1), new int[] {2, 5}, 0, 1, 20, 0, 1, 2, 3, 21, 2, 3);
        assertValues(Tensor.cat(List.of(a), 0), new int[] {2, 2}, 0, 1, 2, 3);
        assertValues(Tensor.cat(List.of(a, Tensor.zeros(0, 2), b), 0), new int[] {3, 2}, 0, 1, 2, 3, 10, 11);
    }

    @Test void catOfNonContiguousInputs() {
        Tensor m = range(0, 3, 4);
        Tensor t = m.t();                                   // [4, 3]
        Tensor stepped = m.slice(1, 0, 4, 3).t();           // [2, 3]: columns 0 and 3
        Tensor expanded = Tensor.of(new float[] {7, 8, 9}, 1, 3).expand(2, 3);
        Tensor out = Tensor.cat(List.of(t, stepped, expanded), 0);
        assertShape(out, 8, 3);
        assertValues(out, 0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11, 0, 4, 8, 3, 7, 11, 7, 8, 9, 7, 8, 9);
        Tensor side = Tensor.cat(List.of(m.slice(1, 0, 4, 2), m.slice(1, 1, 4, 2)), 1);   // even, then odd columns
        assertValues(side, new int[] {3, 4}, 0, 2, 1, 3, 4, 6, 5, 7, 8, 10, 9, 11);
    }

    @ParameterizedTest @EnumSource(DType.class)
    void catStackSplitKeepTheDtype(DType dt) {
        Tensor a = Tensor.of(new long[] {1, 0, 1}, 3).to(dt), b = Tensor.of(new long[] {0, 1, 1}, 3).to(dt);
        Tensor c = Tensor.cat(List.of(a, b), 0);
        assertEquals(dt, c.dtype());
        assertLongs(c, 1, 0, 1, 0, 1, 1);
        Tensor s = Tensor.stack(List.of(a, b), 1);
        assertShape(s, 3, 2);
        assertLongs(s, 1, 0, 0, 1, 1, 1);
        List<Tensor> parts = c.split(4, 0);
        assertEquals(dt, parts.get(1).dtype());
        assertLongs(parts.get(1), 1, 1);
    }

    @Test void stackInsertsANewDim() {
        Tensor a = range(0, 2, 3), b = range(10, 2, 3);
        assertShape(Tensor.stack(List.of(a, b), 0), 2, 2, 3);
        Tensor s1 = Tensor.stack(List.of(a, b), 1);
        assertShape(s1, 2, 2, 3);
        assertValues(s1, 0, 1, 2, 10, 11, 12, 3, 4, 5, 13, 14, 15);
        Tensor s2 = Tensor.stack(List.of(a, b, a), -1);
        assertShape(s2, 2, 3, 3);
        assertValues(s2.select(0, 1), new int[] {3, 3}, 3, 13, 3, 4, 14, 4, 5, 15, 5);
        assertValues(Tensor.stack(List.of(Tensor.scalar(1), Tensor.scalar(2)), 0), new int[] {2}, 1, 2);
    }

    @Test void splitAndChunkAreViews() {
        Tensor x = range(0, 7, 2);
        List<Tensor> parts = x.split(3, 0);
        assertEquals(3, parts.size());
        assertShape(parts.get(0), 3, 2);
        assertShape(parts.get(2), 1, 2);                  // the last piece is smaller
        assertValues(parts.get(2), 12, 13);
        assertSame(x.storage(), parts.get(1).storage());
        parts.get(1).fill_(-1);
        assertEquals(-1, x.get(4, 1));
        List<Tensor> bySizes = x.split(new int[] {2, 0, 5}, 0);
        assertShape(bySizes.get(1), 0, 2);
        assertShape(bySizes.get(2), 5, 2);
        List<Tensor> cols = x.split(1, 1);
        assertEquals(2, cols.size());
        assertValues(cols.get(1), new int[] {7, 1}, 1, 3, 5, -1, -1, -1, 13);
        // chunk: pieces of ceil(size / chunks), so fewer than asked when it does not divide
        assertEquals(List.of(3, 3, 1), sizes(x.chunk(3, 0)));
        assertEquals(List.of(2, 2, 2, 1), sizes(x.chunk(4, 0)));
        assertEquals(List.of(1, 1, 1, 1, 1, 1, 1), sizes(x.chunk(10, 0)));
        assertEquals(List.of(2, 2, 2), sizes(range(0, 6).chunk(4, 0)));     // as torch.chunk: 3 chunks, not 4
        assertEquals(List.of(7), sizes(x.chunk(1, 0)));
    }

    private static List<Integer> sizes(List<Tensor> parts) {
        return parts.stream().map(p -> p.size(0)).toList();
    }
}
