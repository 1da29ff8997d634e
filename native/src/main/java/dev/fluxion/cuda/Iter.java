package dev.fluxion.cuda;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The strided walk a kernel takes over up to four operands of one logical shape; the Java twin of
 * {@code struct Iter} in {@code common.cuh} (int rank, int shape[8], int stride[4][8]: 164 bytes).
 * {@link #of} merges dims that are contiguous for every operand and drops size-1 dims, so a contiguous
 * tensor becomes rank 1 and a broadcast scalar a stride-0 operand; {@link #exact} keeps every dim (the
 * indexing kernels address one dim by its position). Linear indices in the kernels are 64-bit, but each
 * dim's size and stride is a 32-bit int in the struct: a walk that needs more (a contiguous run of over
 * 2^31-1 elements after merging, or such a stride) is refused with an error naming the limit.
 */
final class Iter {
    static final int MAX_DIMS = 8;
    static final int MAX_OPERANDS = 4;
    static final int BYTES = 4 * (1 + MAX_DIMS + MAX_OPERANDS * MAX_DIMS);

    final int rank;
    final int[] shape;
    final int[][] strides;   // [operand][dim]

    private Iter(int[] shape, int[][] strides) {
        this.rank = shape.length;
        this.shape = shape;
        this.strides = strides;
    }

    /** The collapsed walk of shape by the operands' strides (each array as long as shape). */
    static Iter of(int[] shape, long[]... operandStrides) {
        checkOperands(shape, operandStrides);
        int ops = operandStrides.length;
        long[] s = new long[shape.length];
        long[][] t = new long[ops][shape.length];
        int r = 0;
        for (int d = 0; d < shape.length; d++) {
            if (shape[d] == 1) continue;
            boolean merge = r > 0;
            for (int o = 0; o < ops && merge; o++) merge = t[o][r - 1] == operandStrides[o][d] * shape[d];
            if (merge) {
                s[r - 1] *= shape[d];
                for (int o = 0; o < ops; o++) t[o][r - 1] = operandStrides[o][d];
            } else {
                s[r] = shape[d];
                for (int o = 0; o < ops; o++) t[o][r] = operandStrides[o][d];
                r++;
            }
        }
        if (r > MAX_DIMS) throw tooManyDims(shape, operandStrides, r);
        int[][] ts = new int[ops][];
        for (int o = 0; o < ops; o++) ts[o] = ints(Arrays.copyOf(t[o], r), shape, operandStrides);
        return new Iter(ints(Arrays.copyOf(s, r), shape, operandStrides), ts);
    }

    /** The values as ints, or an error: the struct holds 32-bit sizes and strides. */
    private static int[] ints(long[] v, int[] shape, long[][] strides) {
        int[] out = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            if (v[i] > Integer.MAX_VALUE || v[i] < Integer.MIN_VALUE)
                throw new UnsupportedOperationException("cuda: a view of shape " + Arrays.toString(shape) + " with strides " + Arrays.deepToString(strides)
                        + " needs a size or stride of " + v[i] + " per dim; the CUDA kernels take at most 2^31-1 per dim (tensors of more elements run on the CPU)");
            out[i] = (int) v[i];
        }
        return out;
    }

    /** The walk with every dim kept, for kernels that address a dim by its index. */
    static Iter exact(int[] shape, long[]... operandStrides) {
        checkOperands(shape, operandStrides);
        if (shape.length > MAX_DIMS) throw tooManyDims(shape, operandStrides, shape.length);
        int[][] ts = new int[operandStrides.length][];
        for (int o = 0; o < ts.length; o++) ts[o] = ints(operandStrides[o], shape, operandStrides);
        return new Iter(shape.clone(), ts);
    }

    private static void checkOperands(int[] shape, long[][] operandStrides) {
        if (operandStrides.length > MAX_OPERANDS) throw new IllegalArgumentException("Iter: at most " + MAX_OPERANDS + " operands, got " + operandStrides.length);
        for (long[] st : operandStrides)
            if (st.length != shape.length)
                throw new IllegalArgumentException("Iter: strides " + Arrays.toString(st) + " do not match shape " + Arrays.toString(shape));
    }

    private static UnsupportedOperationException tooManyDims(int[] shape, long[][] strides, int r) {
        return new UnsupportedOperationException("cuda: a view of shape " + Arrays.toString(shape) + " with strides " + Arrays.deepToString(strides)
                + " needs " + r + " dims after merging; the kernels take at most " + MAX_DIMS + ". Call contiguous() on the operand first");
    }

    /** True when operand o walks its elements in order without gaps (its offset is the linear index). */
    boolean contiguous(int o) {
        long expected = 1;
        for (int d = rank - 1; d >= 0; d--) {
            if (strides[o][d] != expected) return false;
            expected *= shape[d];
        }
        return true;
    }

    /** True when operand o is one element broadcast everywhere (all strides 0). */
    boolean broadcastScalar(int o) {
        for (int d = 0; d < rank; d++) if (strides[o][d] != 0) return false;
        return true;
    }

    /** Writes the C struct (native byte order, unused slots zero) at the buffer's position. */
    void writeTo(ByteBuffer b) {
        int start = b.position();
        b.putInt(rank);
        for (int d = 0; d < MAX_DIMS; d++) b.putInt(d < rank ? shape[d] : 1);
        for (int o = 0; o < MAX_OPERANDS; o++)
            for (int d = 0; d < MAX_DIMS; d++) b.putInt(o < strides.length && d < rank ? strides[o][d] : 0);
        assert b.position() - start == BYTES;
    }

    @Override public String toString() { return "Iter" + Arrays.toString(shape) + " strides " + Arrays.deepToString(strides); }
}
