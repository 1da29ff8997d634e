package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/** indexSelect, gather and scatterAdd on the CPU; every index is range-checked before it is used. */
final class CpuIndexing {
    private CpuIndexing() {}

    /** Indices must lie in [0, size): as PyTorch's index_select, gather, scatter_add, index_add and embedding, negative ones are errors. */
    private static int checked(String op, long v, int size, int dim) {
        if (v < 0 || v >= size)
            throw new IndexOutOfBoundsException(op + ": index " + v + " is out of range for dim " + dim + " of size " + size
                    + " (expected 0 to " + (size - 1) + "; negative indices are not counted from the end here, as in PyTorch)");
        return (int) v;
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        int[] shape = x.shape();
        long[] st = x.stride();
        int n = Shape.dimSize("indexSelect", index.numel());
        Strided idx = new Strided(index);
        int[] rowIdx = new int[n];
        for (int i = 0; i < n; i++) rowIdx[i] = checked("indexSelect", idx.getLong(i), shape[dim], dim);
        int[] outShape = shape.clone();
        outShape[dim] = n;
        Tensor out = CpuBackend.empty(x.dtype(), outShape);
        if (dim == 0 && x.isContiguous()) {               // rows of a table (embedding lookups): one block copy per row
            long row = x.numel() / Math.max(shape[0], 1);
            CpuStorage from = (CpuStorage) x.storage(), to = (CpuStorage) out.storage();
            long xo = x.offset(), oo = out.offset();
            Parallel.forRange(n, Math.max(1, Parallel.GRAIN / Math.max(1, row)), (lo, hi) -> {
                for (int i = (int) lo; i < hi; i++) to.copyFrom(from, xo + rowIdx[i] * row, oo + i * row, row);
            });
            return out;
        }
        long[] ost = out.stride();
        int[] sliceShape = shape.clone();
        sliceShape[dim] = 1;
        Parallel.forRange(n, Math.max(1, Parallel.GRAIN / Math.max(1, x.numel() / Math.max(shape[dim], 1))), (lo, hi) -> {
            for (int i = (int) lo; i < hi; i++) {
                Tensor src = x.asStrided(sliceShape, st, x.offset() + rowIdx[i] * st[dim]);
                Tensor dst = out.asStrided(sliceShape, ost, i * ost[dim]);
                CpuBackend.INSTANCE.copy(src, dst);
            }
        });
        return out;
    }

    /** Storage index in x of the element at index position (multi-index m of index, dim replaced by its value). */
    private interface Visit { void at(long linear, long xIndex); }

    private static void forEachIndex(String op, Tensor x, int dim, Tensor index, Visit visit) {
        int[] is = index.shape(), xs = x.shape();
        long[] xst = x.stride();
        Strided idx = new Strided(index);
        int r = is.length;
        int[] m = new int[r];
        long n = index.numel();
        for (long linear = 0; linear < n; linear++) {
            int v = checked(op, idx.getLong(linear), xs[dim], dim);
            long xi = x.offset();
            for (int d = 0; d < r; d++) xi += (d == dim ? v : m[d]) * xst[d];
            visit.at(linear, xi);
            for (int d = r - 1; d >= 0; d--) { if (++m[d] < is[d]) break; m[d] = 0; }
        }
    }

    static Tensor gather(Tensor x, int dim, Tensor index) {
        Tensor out = CpuBackend.empty(x.dtype(), index.shape());
        CpuStorage xs = (CpuStorage) x.storage(), os = (CpuStorage) out.storage();
        if (x.dtype() == dev.fluxion.tensor.DType.INT64)       // through double, int64 beyond 2^53 would round
            forEachIndex("gather", x, dim, index, (linear, xi) -> os.setLong(linear, xs.getLong(xi)));
        else
            forEachIndex("gather", x, dim, index, (linear, xi) -> os.setDouble(linear, xs.getDouble(xi)));
        return out;
    }

    static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
        Tensor out = CpuBackend.empty(x.dtype(), x.shape());
        CpuBackend.INSTANCE.copy(x, out);
        Strided s = new Strided(src);
        CpuStorage os = (CpuStorage) out.storage();
        // out is contiguous with offset 0, so x's multi-index maps through out's own strides
        Tensor outView = out.asStrided(out.shape(), out.stride(), 0);
        forEachIndex("scatterAdd", outView, dim, index, (linear, oi) -> os.setDouble(oi, os.getDouble(oi) + s.storage.getDouble(s.indexOf(linear))));
        return out;
    }

    /**
     * indexAdd for float32: the input seen as [outer, size, inner] and src as [outer, k, inner]; rows of
     * inner elements are added with vectors. Work splits over outer, or over columns of inner when outer is
     * small, so that no two threads add into the same element. Null for other dtypes.
     */
    static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        if (x.dtype() != DType.FLOAT32 || x.numel() * 4 > CpuStorage.MAX_SINGLE || !CpuStorage.fitsOneBuffer(src)) return null;
        int[] shape = x.shape();                                 // one buffer each: every index below fits an int
        int size = shape[dim], k = index.size(0), outer = 1, inner = 1;
        for (int i = 0; i < dim; i++) outer *= shape[i];
        for (int i = dim + 1; i < shape.length; i++) inner *= shape[i];
        Strided idx = new Strided(index);
        int[] rows = new int[k];
        for (int i = 0; i < k; i++) rows[i] = checked("indexAdd", idx.getLong(i), size, dim);
        Tensor out = CpuBackend.empty(DType.FLOAT32, shape);
        CpuBackend.INSTANCE.copy(x, out);
        Tensor s = src.isContiguous() ? src : CpuBackend.contiguousCopy(src);
        java.nio.FloatBuffer o = ((CpuStorage) out.storage()).floats("indexAdd"), in = ((CpuStorage) s.storage()).floats("indexAdd");
        int so = (int) s.offset(), in0 = inner, outerN = outer;
        boolean byOuter = outer >= Parallel.threads() * 4 || inner < 64;
        Parallel.forRange(byOuter ? outer : inner, byOuter ? Math.max(1, Parallel.GRAIN / Math.max(1, k * inner)) : 64, (lo, hi) -> {
            float[] a = new float[Math.min(Scratch.CHUNK, in0)], b = new float[a.length];
            int oLo = byOuter ? (int) lo : 0, oHi = byOuter ? (int) hi : outerN, cLo = byOuter ? 0 : (int) lo, cHi = byOuter ? in0 : (int) hi;
            for (int oi = oLo; oi < oHi; oi++) {
                for (int j = 0; j < k; j++) {
                    int dst = (oi * size + rows[j]) * in0, from = so + (oi * k + j) * in0;
                    if (in0 == 1) { o.put(dst, o.get(dst) + in.get(from)); continue; }
                    for (int c = cLo; c < cHi; c += a.length) {
                        int n = Math.min(a.length, cHi - c);
                        o.get(dst + c, a, 0, n);
                        in.get(from + c, b, 0, n);
                        FloatKernels.accumulate(b, a, n);
                        o.put(dst + c, a, 0, n);
                    }
                }
            }
        });
        if (s != src) s.close();
        return out;
    }

}
