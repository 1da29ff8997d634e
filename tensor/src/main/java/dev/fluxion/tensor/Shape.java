package dev.fluxion.tensor;

import java.util.Arrays;

/** Helpers for shapes and strides, which Fluxion keeps as plain {@code int[]}s (row-major, in elements). */
public final class Shape {
    private Shape() {}

    public static int numel(int[] shape) {
        long n = 1;
        for (int d : shape) n *= d;
        if (n > Integer.MAX_VALUE) throw new IllegalArgumentException("shape " + str(shape) + " has " + n + " elements, more than 2^31-1");
        return (int) n;
    }

    public static int[] contiguousStrides(int[] shape) {
        int[] strides = new int[shape.length];
        int s = 1;
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
        numel(shape);
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
}
