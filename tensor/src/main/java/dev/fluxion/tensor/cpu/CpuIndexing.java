package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.Tensor;

/** indexSelect, gather and scatterAdd on the CPU; every index is range-checked before it is used. */
final class CpuIndexing {
    private CpuIndexing() {}

    private static int checked(String op, long v, int size, int dim) {
        if (v < -size || v >= size)
            throw new IndexOutOfBoundsException(op + ": index " + v + " is out of range for dim " + dim + " of size " + size);
        return (int) (v < 0 ? v + size : v);
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        int[] shape = x.shape(), st = x.stride();
        int n = index.numel();
        Strided idx = new Strided(index);
        int[] rowIdx = new int[n];
        for (int i = 0; i < n; i++) rowIdx[i] = checked("indexSelect", idx.getLong(i), shape[dim], dim);
        int[] outShape = shape.clone();
        outShape[dim] = n;
        Tensor out = CpuBackend.empty(x.dtype(), outShape);
        int[] ost = out.stride();
        int[] sliceShape = shape.clone();
        sliceShape[dim] = 1;
        Parallel.forRange(n, Math.max(1, Parallel.GRAIN / Math.max(1, x.numel() / Math.max(shape[dim], 1))), (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                Tensor src = x.asStrided(sliceShape, st, x.offset() + rowIdx[i] * st[dim]);
                Tensor dst = out.asStrided(sliceShape, ost, i * ost[dim]);
                CpuBackend.INSTANCE.copy(src, dst);
            }
        });
        return out;
    }

    /** Storage index in x of the element at index position (multi-index m of index, dim replaced by its value). */
    private interface Visit { void at(int linear, int xIndex); }

    private static void forEachIndex(String op, Tensor x, int dim, Tensor index, Visit visit) {
        int[] is = index.shape(), xs = x.shape(), xst = x.stride();
        Strided idx = new Strided(index);
        int r = is.length;
        int[] m = new int[r];
        int n = index.numel();
        for (int linear = 0; linear < n; linear++) {
            int v = checked(op, idx.getLong(linear), xs[dim], dim);
            int xi = x.offset();
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
}
