package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * Reductions and softmax on a GPU (reduce.cu, softmax.cu). The input is viewed as [kept dims, reduced dims]
 * without copying; each output element reduces one "row". The launch plan ({@link Plan}) picks a block per
 * row when the reduced elements are adjacent in memory, a thread per row when the kept dims are, and splits
 * long rows across blocks with a second pass over the partial results.
 */
final class CudaReduce {
    private CudaReduce() {}

    /** How a reduction is launched: which kernel, how many splits per row, threads per block. */
    record Plan(boolean columns, int splits, int threads) {
        static Plan of(long rows, long inner, boolean innerContiguous, int multiprocessors) {
            long wantBlocks = 4L * multiprocessors;
            if (!(innerContiguous && inner >= 16) && rows >= 256) {
                long gridX = Math.min((rows + 255) / 256, 16L * multiprocessors);
                long splits = Math.min(Math.max(1, ceilDiv(wantBlocks, gridX)), Math.max(1, inner / 64));
                return new Plan(true, (int) Math.min(splits, 65535), 256);
            }
            long splits = rows >= wantBlocks ? 1 : Math.min(ceilDiv(wantBlocks, rows), Math.max(1, ceilDiv(inner, 4096)));
            splits = Math.max(1, Math.min(splits, 1024));
            long perBlock = ceilDiv(inner, splits);
            int threads = 32;
            while (threads < 256 && threads < perBlock) threads *= 2;
            return new Plan(false, (int) splits, threads);
        }
    }

    static long ceilDiv(long a, long b) { return (a + b - 1) / b; }

    static Tensor reduce(CudaDevice d, ReduceOp op, Tensor x, int[] dims, boolean keepdim) {
        if (op == ReduceOp.SUM && !x.dtype().isFloatingPoint() && x.dtype() != DType.INT64) {   // sums of integers are int64
            try (Tensor wide = x.to(DType.INT64)) {                 // freed in stream order, after the reduction reads it
                return reduce(d, op, wide, dims, keepdim);
            }
        }
        int[] shape = x.shape();
        long[] st = x.stride();
        int rank = shape.length;
        boolean[] reduced = new boolean[rank];
        for (int k : dims) reduced[k] = true;
        int[] keptShape = new int[rank], redShape = new int[rank], outShape = new int[rank];
        long[] keptStride = new long[rank], redStride = new long[rank];
        int nk = 0, nr = 0, no = 0;
        long rows = 1, inner = 1;
        for (int i = 0; i < rank; i++) {
            if (reduced[i]) {
                redShape[nr] = shape[i];
                redStride[nr++] = st[i];
                inner *= shape[i];
                if (keepdim) outShape[no++] = 1;
            } else {
                keptShape[nk] = shape[i];
                keptStride[nk++] = st[i];
                rows *= shape[i];
                outShape[no++] = shape[i];
            }
        }
        boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        Tensor out = Tensor.empty(arg ? DType.INT64 : x.dtype(), d.device, Arrays.copyOf(outShape, no));
        if (rows == 0) return out;
        Iter outer = Iter.of(Arrays.copyOf(keptShape, nk), Arrays.copyOf(keptStride, nk));
        Iter red = Iter.of(Arrays.copyOf(redShape, nr), Arrays.copyOf(redStride, nr));
        Plan plan = Plan.of(rows, inner, red.contiguous(0), d.multiprocessors);
        String t = Codes.suffix(x.dtype());
        Tensor partV = null, partI = null;
        if (plan.splits() > 1) {
            partV = Tensor.empty(Codes.accumulator(x.dtype()), d.device, Math.toIntExact(rows * plan.splits()));
            partI = Tensor.empty(DType.INT64, d.device, Math.toIntExact(rows * plan.splits()));
        }
        KernelArgs a = KernelArgs.start().i32(Codes.of(op)).i64(rows).i64(inner);
        if (plan.columns()) {
            a.ptr(x).iter(outer).iter(red).ptr(out).ptr(partV).ptr(partI);
            int gx = (int) Math.min(ceilDiv(rows, 256), 16L * d.multiprocessors);
            d.kernels.launch("fx_reduce_cols_" + t, gx, plan.splits(), 1, 256, 1, 1, a);
        } else {
            a.i32(plan.splits()).ptr(x).iter(outer).iter(red).i32(red.contiguous(0) ? 1 : 0).ptr(out).ptr(partV).ptr(partI);
            int blocks = (int) Math.min(rows * plan.splits(), 32L * d.multiprocessors);
            d.kernels.launch("fx_reduce_rows_" + t, blocks, 1, 1, plan.threads(), 1, 1, a);
        }
        if (partV != null) {
            d.kernels.launch("fx_reduce_final_" + t, rows, KernelArgs.start().i32(Codes.of(op)).i64(rows).i32(plan.splits()).ptr(partV).ptr(partI).ptr(out));
            partV.close();   // freed in stream order, after the kernels that use them
            partI.close();
        }
        return out;
    }

    static Tensor softmax(CudaDevice d, Tensor x, int dim, boolean log) {
        if (x.dim() == 0) {
            Tensor one = Tensor.empty(x.dtype(), d.device);
            CudaElementwise.fill(d, one, log ? 0 : 1);
            return one;
        }
        int last = x.dim() - 1;
        Tensor in = dim == last ? x : swapped(x, dim, last);
        Tensor c = contiguous(d, in);
        Tensor y = Tensor.empty(x.dtype(), d.device, in.shape());
        long cols = in.size(-1), rows = cols == 0 ? 0 : in.numel() / cols;
        if (rows > 0) {
            d.kernels.launch("fx_softmax_" + Codes.suffix(x.dtype()), (int) Math.min(rows, 32L * d.multiprocessors), 1, 1, rowThreads(cols), 1, 1,
                    KernelArgs.start().i64(rows).i64(cols).ptr(c).ptr(y).i32(log ? 1 : 0));
        }
        if (c != in) c.close();
        if (dim == last) return y;
        Tensor back = Tensor.empty(x.dtype(), d.device, x.shape());
        CudaElementwise.copy(d, swapped(y, dim, last), back);
        y.close();
        return back;
    }

    /** Threads per block for a kernel that gives one block to each row of cols elements. */
    static int rowThreads(long cols) {
        int t = 32;
        while (t < 1024 && t * 4L < cols) t *= 2;
        return t;
    }

    /** t itself when contiguous, else a contiguous copy on the same device. */
    static Tensor contiguous(CudaDevice d, Tensor t) {
        if (t.isContiguous()) return t;
        Tensor c = Tensor.empty(t.dtype(), d.device, t.shape());
        CudaElementwise.copy(d, t, c);
        return c;
    }

    /** The view of t with dims a and b exchanged (not recorded). */
    static Tensor swapped(Tensor t, int a, int b) {
        int[] sh = t.shape();
        long[] st = t.stride();
        int ts = sh[a]; sh[a] = sh[b]; sh[b] = ts;
        long tt = st[a]; st[a] = st[b]; st[b] = tt;
        return t.asStrided(sh, st, t.offset());
    }
}
