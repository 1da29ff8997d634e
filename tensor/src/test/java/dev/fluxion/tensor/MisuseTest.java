package dev.fluxion.tensor;

import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * API misuse of the tensor factories, views and index ops: each row is one wrong call, the exception it must
 * raise (never a silent result, an OutOfMemoryError or a NullPointerException) and words its message must hold.
 */
class MisuseTest {
    private static final int BIG = 1 << 16;                    // BIG^4 = 2^64: overflows a long to 0

    private static Arguments row(String call, Class<? extends Throwable> type, Executable action, String... words) {
        return Arguments.of(call, type, action, words);
    }

    static Stream<Arguments> rows() {
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Class<IndexOutOfBoundsException> ioobe = IndexOutOfBoundsException.class;
        Tensor v5 = Tensor.arange(5).to(DType.FLOAT32), m23 = Tensor.ones(2, 3), empty = Tensor.zeros(0);
        Tensor minus1 = Tensor.of(new long[] {-1}, 1);
        Generator g = new Generator(1);
        long overHeap = Math.min(Creation.MAX_STAGED, Runtime.getRuntime().maxMemory() / 8 + 1);   // staging needs 8 bytes an element
        return Stream.of(
                // negative indices fail as in PyTorch (index_select, gather, embedding, scatter_add, index_add do not count from the end)
                row("embedding(w, [-1])", ioobe, () -> Tensor.embedding(m23, minus1), "-1", "out of range", "size 2"),
                row("embedding(w, [[0, -2]])", ioobe, () -> Tensor.embedding(m23, Tensor.of(new long[] {0, -2}, 1, 2)), "-2"),
                row("embedding(w, [2])", ioobe, () -> Tensor.embedding(m23, Tensor.of(new long[] {2}, 1)), "2", "out of range"),
                row("indexSelect(0, [-1])", ioobe, () -> v5.indexSelect(0, minus1), "indexSelect", "-1"),
                row("indexSelect(0, int32 [-5])", ioobe, () -> v5.indexSelect(0, Tensor.of(new int[] {-5}, 1)), "indexSelect", "-5"),
                row("gather(0, [-1])", ioobe, () -> v5.gather(0, minus1), "gather", "-1"),
                row("scatterAdd(0, [-1], src)", ioobe, () -> v5.scatterAdd(0, minus1, Tensor.ones(1)), "scatterAdd", "-1"),
                row("indexAdd(0, [-1], src)", ioobe, () -> v5.indexAdd(0, minus1, Tensor.ones(1)), "indexAdd", "-1"),
                row("oneHot([-1], 3)", ioobe, () -> minus1.oneHot(3), "oneHot", "-1"),
                // narrow: PyTorch's start in [-size, size], length >= 0, start + length <= size
                row("narrow(0, 3, 4) of 5", iae, () -> v5.narrow(0, 3, 4), "narrow", "3", "4", "5"),
                row("narrow(0, 0, -1)", iae, () -> v5.narrow(0, 0, -1), "narrow", "length", "-1"),
                row("narrow(0, 6, 0)", iae, () -> v5.narrow(0, 6, 0), "narrow", "start", "6"),
                row("narrow(0, -6, 1)", iae, () -> v5.narrow(0, -6, 1), "narrow", "-6"),
                row("narrow(0, MAX, MAX)", iae, () -> v5.narrow(0, Integer.MAX_VALUE, Integer.MAX_VALUE), "narrow"),
                // shapes whose element count overflows a long
                row("reshape to BIG^4 (0 elements)", iae, () -> empty.reshape(BIG, BIG, BIG, BIG), "reshape", "2^63-1"),
                row("reshape to BIG^4 x 0", iae, () -> empty.reshape(BIG, BIG, BIG, BIG, 0), "reshape", "2^63-1"),
                row("reshape to (-1, BIG^4)", iae, () -> empty.reshape(-1, BIG, BIG, BIG, BIG), "reshape", "2^63-1"),
                row("view to BIG^4", iae, () -> empty.view(BIG, BIG, BIG, BIG), "view", "2^63-1"),
                row("reshape (-1, -1)", iae, () -> v5.reshape(-1, -1), "only one"),
                row("reshape (-2, 5)", iae, () -> v5.reshape(-2, 5), "invalid size -2"),
                row("zeros(BIG^4)", iae, () -> Tensor.zeros(BIG, BIG, BIG, BIG), "2^63-1"),
                row("zeros(BIG^4 x 0)", iae, () -> Tensor.zeros(BIG, BIG, BIG, BIG, 0), "2^63-1"),
                row("zeros(0 x BIG^4)", iae, () -> Tensor.zeros(0, BIG, BIG, BIG, BIG), "2^63-1"),
                row("ones(BIG^4)", iae, () -> Tensor.ones(BIG, BIG, BIG, BIG), "2^63-1"),
                row("full(BIG^4)", iae, () -> Tensor.full(1, BIG, BIG, BIG, BIG), "2^63-1"),
                row("empty(BIG^4)", iae, () -> Tensor.empty(DType.FLOAT32, Device.CPU, BIG, BIG, BIG, BIG), "2^63-1"),
                row("zeros(-1)", iae, () -> Tensor.zeros(-1), "negative"),
                row("ones(2, -3)", iae, () -> Tensor.ones(2, -3), "negative"),
                row("full(2, 2) int with 0.5", iae, () -> Tensor.full(0.5, DType.INT32, Device.CPU, 2), "does not fit"),
                row("rand(BIG^4)", iae, () -> Tensor.rand(g, BIG, BIG, BIG, BIG), "rand", "2^63-1"),
                row("randn(-1)", iae, () -> Tensor.randn(g, -1), "randn", "negative"),
                row("rand(int64)", iae, () -> Tensor.rand(g, DType.INT64, 2), "floating point"),
                row("randint(5, 5)", iae, () -> Tensor.randint(g, 5, 5, 2), "randint", "5"),
                row("randint(5, 1)", iae, () -> Tensor.randint(g, 5, 1, 2), "randint"),
                row("randint(BIG^4)", iae, () -> Tensor.randint(g, 0, 2, BIG, BIG, BIG, BIG), "2^63-1"),
                row("rand(2^31 elements)", iae, () -> Tensor.rand(g, 1 << 16, 1 << 15), "rand", "2147483648", "limit"),
                row("eye(BIG, BIG)", iae, () -> Tensor.eye(BIG, BIG, DType.FLOAT32), "eye", "4294967296"),
                row("eye(-1)", iae, () -> Tensor.eye(-1), "eye", "negative"),
                row("randperm(-1)", iae, () -> Tensor.randperm(-1, g), "randperm", "-1"),
                row("multinomial(0 samples)", iae, () -> Tensor.of(0.5f, 0.5f).multinomial(0, true, g), "multinomial", "0"),
                row("multinomial(NaN weight)", iae, () -> Tensor.of(0.5f, Float.NaN).multinomial(1, true, g), "multinomial", "NaN"),
                row("bernoulli(NaN)", iae, () -> Tensor.of(Float.NaN).bernoulli(g), "bernoulli", "NaN"),
                row("bernoulli(1.5)", iae, () -> Tensor.of(1.5f).bernoulli(g), "bernoulli", "1.5"),
                // arange: the end and step must be finite, the step non-zero and toward the end, the size within the limit
                row("arange(0, NaN, 1)", iae, () -> Tensor.arange(0, Double.NaN, 1), "arange", "NaN", "finite"),
                row("arange(NaN, 1, 1)", iae, () -> Tensor.arange(Double.NaN, 1, 1), "arange", "NaN"),
                row("arange(0, inf, 1)", iae, () -> Tensor.arange(0, Double.POSITIVE_INFINITY, 1), "arange", "Infinity", "finite"),
                row("arange(-inf, 0, 1)", iae, () -> Tensor.arange(Double.NEGATIVE_INFINITY, 0, 1), "arange", "Infinity"),
                row("arange(0, 1, inf)", iae, () -> Tensor.arange(0, 1, Double.POSITIVE_INFINITY), "arange", "step"),
                row("arange(0, 1, NaN)", iae, () -> Tensor.arange(0, 1, Double.NaN), "arange", "step", "NaN"),
                row("arange(0, 1, 0)", iae, () -> Tensor.arange(0, 1, 0), "arange", "step", "non-zero"),
                row("arange(0, 10, -1)", iae, () -> Tensor.arange(0, 10, -1), "arange", "step -1.0"),
                row("arange(10, 0, 1)", iae, () -> Tensor.arange(10, 0, 1), "arange", "step 1.0"),
                row("arange(0, 1e12, 1)", iae, () -> Tensor.arange(0, 1e12, 1), "arange", "1000000000000", "limit"),
                row("arange(0, 1, 1e-300)", iae, () -> Tensor.arange(0, 1, 1e-300), "arange", "limit"),
                row("arange(-1)", iae, () -> Tensor.arange(-1), "arange", "step 1.0"),
                // linspace: the count within the limit and the heap, checked before anything is allocated
                row("linspace(0, 1, MAX)", iae, () -> Tensor.linspace(0, 1, Integer.MAX_VALUE), "linspace", "2147483647", "limit"),
                row("linspace past the heap", iae, () -> Tensor.linspace(0, 1, (int) overHeap), "linspace", "elements"),
                row("arange past the heap", iae, () -> Tensor.arange(0, overHeap, 1), "arange", "elements"),
                row("linspace(0, 1, -1)", iae, () -> Tensor.linspace(0, 1, -1), "linspace", "-1"),
                row("linspace(NaN, 1, 3)", iae, () -> Tensor.linspace(Double.NaN, 1, 3), "linspace", "finite"),
                row("linspace(0, inf, 3)", iae, () -> Tensor.linspace(0, Double.POSITIVE_INFINITY, 3), "linspace", "finite"),
                // other views and shape ops
                row("slice step 0", iae, () -> v5.slice(0, 0, 5, 0), "slice", "step"),
                row("select(0, 5)", ioobe, () -> v5.select(0, 5), "select", "5"),
                row("transpose(0, 2)", ioobe, () -> m23.transpose(0, 2), "dimension 2"),
                row("expand([2, 3] -> [4, 3])", iae, () -> m23.expand(4, 3), "expand"),
                row("permute(0, 0)", iae, () -> m23.permute(0, 0), "permute"),
                row("flatten(1, 0)", iae, () -> m23.flatten(1, 0), "flatten"),
                row("Tensor.of(3 values, shape 2)", iae, () -> Tensor.of(new float[] {1, 2, 3}, 2), "3", "[2]"),
                row("Tensor.of(values, negative shape)", iae, () -> Tensor.of(new float[] {1}, -1), "negative"),
                row("clamp(2, 1)", iae, () -> v5.clamp(2, 1), "clamp"),
                row("oneHot(ids, 0)", iae, () -> Tensor.of(new long[] {0}, 1).oneHot(0), "numClasses")
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void misuseFailsClearly(String call, Class<? extends Throwable> type, Executable action, String[] words) {
        Throwable e = assertThrows(type, action, call);
        String m = String.valueOf(e.getMessage());
        for (String w : words) assertTrue(m.contains(w), call + ": expected '" + w + "' in: " + m);
    }
}
