package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * Helpers for shapes and strides (row-major, in elements). Sizes of dims are {@code int}: one dim of 2^31
 * elements or more is not supported (PyTorch's are int64, but no model needs such a dim). Element counts,
 * strides and offsets are {@code long}: a tensor may hold more than 2^31 elements (the logits of 8 x 4096
 * tokens over a 128k vocabulary do), and a dim of such a tensor may have a stride beyond 2^31.
 */
public final class Shape {
    private Shape() {}

    /**
     * The number of elements; fails when it exceeds {@code Long.MAX_VALUE}, and also when the product of
     * the non-zero dims does (a zero dim elsewhere would hide that product, which is always a mistake).
     */
    public static long numel(int[] shape) {
        long n = 1;
        boolean zero = false;
        for (int d : shape) {
            if (d == 0) {
                zero = true;
                continue;
            }
            if (d > Long.MAX_VALUE / n)
                throw new IllegalArgumentException("shape " + str(shape) + " has more than 2^63-1 elements");
            n *= d;
        }
        return zero ? 0 : n;
    }

    /**
     * {@code n} as an int, for paths that need one (Java arrays, int-indexed buffers, BLAS arguments);
     * otherwise an error naming the op, the count and the limit.
     */
    public static int intCount(String op, long n) {
        if (n > Integer.MAX_VALUE)
            throw new UnsupportedOperationException(op + ": " + n + " elements is more than this path supports (2^31-1, a Java array or int index)");
        return (int) n;
    }

    /** {@code size} as the size of one dim; otherwise an error naming the op (dims are int, see the class comment). */
    public static int dimSize(String op, long size) {
        if (size > Integer.MAX_VALUE)
            throw new UnsupportedOperationException(op + ": a dim of size " + size + " is more than 2^31-1 (a tensor may hold more elements, one dim may not)");
        return (int) size;
    }

    public static long[] contiguousStrides(int[] shape) {
        long[] strides = new long[shape.length];
        long s = 1;
        for (int i = shape.length - 1; i >= 0; i--) {
            strides[i] = s;
            s *= Math.max(shape[i], 1);
        }
        return strides;
    }

    /** Checks that every dimension is >= 0 and returns a defensive copy. */
    public static int[] checked(String op, int... shape) {
        for (int d : shape)
            if (d < 0) throw new IllegalArgumentException(op + ": shape " + str(shape) + " has a negative dimension");
        try {
            numel(shape);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(op + ": " + e.getMessage());
        }
        return shape.clone();
    }

    /** NumPy broadcasting: align right; each pair of sizes must be equal or one of them 1. */
    public static int[] broadcast(String op, int[] a, int[] b) {
        int n = Math.max(a.length, b.length);
        int[] out = new int[n];
        for (int i = 0; i < n; i++) {
            int da = i < n - a.length ? 1 : a[i - (n - a.length)];
            int db = i < n - b.length ? 1 : b[i - (n - b.length)];
            if (da != db && da != 1 && db != 1)
                throw new IllegalArgumentException(op + ": shapes " + str(a) + " and " + str(b)
                        + " cannot be broadcast: dimension " + i + " has sizes " + da + " and " + db
                        + " (sizes must be equal or one of them 1)");
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** Wraps a possibly negative dimension index into [0, rank). */
    public static int dim(String op, int dim, int rank) {
        int r = Math.max(rank, 1);
        if (dim < -r || dim >= r)
            throw new IndexOutOfBoundsException(op + ": dimension " + dim + " is out of range for a tensor of rank " + rank
                    + " (expected " + (-r) + " to " + (r - 1) + ")");
        return dim < 0 ? dim + r : dim;
    }

    /** Wraps and de-duplicates a list of dims; an empty list means every dim. */
    public static int[] dims(String op, int[] dims, int rank) {
        if (dims.length == 0) {
            int[] all = new int[rank];
            for (int i = 0; i < rank; i++) all[i] = i;
            return all;
        }
        boolean[] seen = new boolean[Math.max(rank, 1)];
        int[] out = new int[dims.length];
        for (int i = 0; i < dims.length; i++) {
            out[i] = dim(op, dims[i], rank);
            if (seen[out[i]]) throw new IllegalArgumentException(op + ": dimension " + dims[i] + " appears twice in " + Arrays.toString(dims));
            seen[out[i]] = true;
        }
        if (rank == 0) return new int[0];  // dim 0 or -1 of a 0-dim tensor is the tensor itself (as PyTorch): nothing to reduce
        Arrays.sort(out);
        return out;
    }

    public static String str(int[] shape) { return Arrays.toString(shape); }

    public static String str(long[] strides) { return Arrays.toString(strides); }
}
