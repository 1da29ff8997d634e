package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static dev.fluxion.tensor.TensorAssert.assertThrowsWith;

/** Bad arguments to the parity ops fail with a message naming the op, the values and what was expected. */
class ParityErrorsTest {
    private final Tensor x = Tensor.zeros(2, 3);

    @Test
    void elementwise() {
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.of(new long[] {1, 2}, 2).log1p(), "log1p", "int64", "floating");
        assertThrowsWith(ArithmeticException.class, () -> Tensor.of(new long[] {1, 2}, 2).fmod(Tensor.of(new long[] {1, 0}, 2)), "fmod", "division by zero");
        assertThrowsWith(IllegalArgumentException.class, () -> x.atan2(Tensor.zeros(4)), "atan2");
        assertThrowsWith(IllegalArgumentException.class, () -> x.hardtanh(1, -1), "hardtanh", "min 1.0", "max -1.0");
        assertThrowsWith(IllegalArgumentException.class, () -> x.atan2(Tensor.zeros(DType.FLOAT64, 3)), "atan2", "float32", "float64");
    }

    @Test
    void shapes() {
        assertThrowsWith(IllegalArgumentException.class, () -> x.repeat(2), "repeat", "1 repeats", "rank 2");
        assertThrowsWith(IllegalArgumentException.class, () -> x.pad(new int[] {3, 0}, PadMode.REFLECT, 0), "pad", "REFLECT", "size 3", "< the size");
        assertThrowsWith(IllegalArgumentException.class, () -> x.pad(1, 1, 1), "pad", "pairs");
        assertThrowsWith(IllegalArgumentException.class, () -> x.pad(new int[] {1, 1}, PadMode.REPLICATE, 2), "pad", "only applies to mode CONSTANT");
        assertThrowsWith(IllegalArgumentException.class, () -> x.movedim(new int[] {0, 0}, new int[] {0, 1}), "movedim", "repeats");
        assertThrowsWith(IllegalArgumentException.class, () -> x.diagonal(0, 1, -1), "diagonal", "must differ");
        assertThrowsWith(IllegalArgumentException.class, () -> x.roll(new int[] {1, 2}, new int[] {0}), "roll", "same length");
        assertThrowsWith(IllegalArgumentException.class, () -> x.topk(4, 1, true), "topk", "k 4", "size 3");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.zeros(2, 0).maxWithIndices(1, false), "max", "size 0");
    }

    @Test
    void einsum() {
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.einsum("ij,jk->ik", x, Tensor.zeros(4, 2)), "einsum", "label 'j'", "size 3", "4");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.einsum("ij,jk->ik", x), "einsum", "2 operands", "1 tensors");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.einsum("ijk->i", x), "einsum", "operand 0", "2 dims", "'ijk'");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.einsum("ij->iz", x), "einsum", "'z'", "no operand");
        assertThrowsWith(IllegalArgumentException.class, () -> Tensor.einsum("i1->i", x), "einsum", "invalid subscript '1'");
    }

    @Test
    void indexing() {
        Tensor mask = Tensor.of(new boolean[] {true, false, true}, 3);
        assertThrowsWith(IllegalArgumentException.class, () -> x.index(mask), "index", "mask shape [3]", "[2, 3]");
        assertThrowsWith(IndexOutOfBoundsException.class, () -> x.index(Tensor.of(new long[] {2}, 1)), "index", "index 2", "dim 0 of size 2");
        assertThrowsWith(IllegalArgumentException.class, () -> x.index(Tensor.zeros(2)), "index", "int64 or int32", "float32");
        assertThrowsWith(IllegalArgumentException.class, () -> x.indexPut(Tensor.of(new boolean[] {true, true}, 2), Tensor.zeros(2)),
                "indexPut", "values of shape [2]", "[2, 3]");
        assertThrowsWith(IndexOutOfBoundsException.class, () -> x.scatter(1, Tensor.of(new long[] {0, 3}, 1, 2), 1.0), "scatter", "index 3", "size 3");
        assertThrowsWith(IllegalArgumentException.class, () -> x.scatter(1, Tensor.of(new long[] {0, 1}, 2), 1.0), "scatter", "rank");
        assertThrowsWith(IllegalArgumentException.class, () -> x.maskedSelect(Tensor.zeros(2, 3)), "maskedSelect", "bool", "float32");
    }
}
