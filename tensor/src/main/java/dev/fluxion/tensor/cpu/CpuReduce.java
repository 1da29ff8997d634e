package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * Reductions and softmax on the CPU. The input is viewed as [kept..., reduced...] (a permutation, no
 * copy), so each output element reduces one logical row. Summing leading dims of a contiguous tensor
 * (bias gradients, sumTo) takes a column-accumulating fast path instead. Sums of integers and bool are
 * int64, as in PyTorch, read straight from the input (no int64 copy of it is made).
 */
final class CpuReduce {
    private CpuReduce() {}

    static Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepdim) {
        int[] shape = x.shape();
        int rank = shape.length;
        boolean[] reduced = new boolean[rank];
        for (int d : dims) reduced[d] = true;
        int[] order = new int[rank];
        int k = 0;
        long numOut = 1, rowLen = 1;
        for (int i = 0; i < rank; i++) if (!reduced[i]) { order[k++] = i; numOut *= shape[i]; }
        int kept = k;
        for (int i = 0; i < rank; i++) if (reduced[i]) { order[k++] = i; rowLen *= shape[i]; }
        int[] outShape = outShape(shape, reduced, keepdim);
        boolean arg = op == ReduceOp.ARGMAX || op == ReduceOp.ARGMIN;
        boolean intSum = op == ReduceOp.SUM && !x.dtype().isFloatingPoint();
        Tensor out = CpuBackend.empty(arg || intSum ? DType.INT64 : x.dtype(), outShape);
        if (numOut == 0) return out;

        boolean leadingOnly = true;                 // reduced dims all before kept dims?
        for (int i = 0; i < dims.length; i++) if (dims[i] != i) leadingOnly = false;
        if (op == ReduceOp.SUM && leadingOnly && kept > 0 && x.isContiguous() && !x.dtype().computesInDouble()) {
            sumLeading(x, rowLen, numOut, out);
            return out;
        }
        int[] pShape = new int[rank];
        long[] pStride = new long[rank], st = x.stride();
        for (int i = 0; i < rank; i++) { pShape[i] = shape[order[i]]; pStride[i] = st[order[i]]; }
        Strided rows = new Strided(x.asStrided(pShape, pStride, x.offset()));
        Strided o = new Strided(out);
        boolean wide = x.dtype().computesInDouble();
        long len = rowLen;
        if (numOut == 1 && !arg && len >= 2 * Parallel.GRAIN) {                       // one long row: split it
            int pieces = Parallel.threads() * 4;
            double[] partial = new double[pieces];
            Parallel.forRange(pieces, 1, (lo, hi) -> {
                for (int p = (int) lo; p < hi; p++) {
                    long from = len * p / pieces, to = len * (p + 1) / pieces;
                    partial[p] = reduceRange(op, rows, from, to - from, wide, Scratch.get());
                }
            });
            double r = partial[0];
            for (int p = 1; p < pieces; p++) r = combine(op, r, partial[p]);
            o.storage.setDouble(o.indexOf(0), r);
            return out;
        }
        Parallel.forRange(numOut, Math.max(1, Parallel.GRAIN / Math.max(len, 1)), (lo, hi) -> {
            Scratch s = Scratch.get();
            for (long r = lo; r < hi; r++) {
                long idx = o.indexOf(r);
                if (arg) o.storage.setLong(idx, argRow(op, rows, r * len, len));
                else o.storage.setDouble(idx, reduceRange(op, rows, r * len, len, wide, s));
            }
        });
        return out;
    }

    private static int[] outShape(int[] shape, boolean[] reduced, boolean keepdim) {
        int[] out = new int[shape.length];
        int k = 0;
        for (int i = 0; i < shape.length; i++) {
            if (!reduced[i]) out[k++] = shape[i];
            else if (keepdim) out[k++] = 1;
        }
        return Arrays.copyOf(out, k);
    }

    private static double combine(ReduceOp op, double a, double b) {
        return switch (op) {
            case SUM -> a + b;
            case MAX -> a != a || b != b ? Double.NaN : Math.max(a, b);
            default -> a != a || b != b ? Double.NaN : Math.min(a, b);
        };
    }

    /** Reduces logical elements [start, start+n) of rows, in chunks. */
    private static double reduceRange(ReduceOp op, Strided rows, long start, long n, boolean wide, Scratch s) {
        if (op == ReduceOp.SUM && rows.contiguous && rows.storage.dtype().byteSize() == 1 && !rows.storage.dtype().isFloatingPoint())
            return rows.storage.sumBytes(rows.offset + start, n);          // exact, without widening each byte to float
        double acc = op == ReduceOp.SUM ? 0 : op == ReduceOp.MAX ? Double.NEGATIVE_INFINITY : Double.POSITIVE_INFINITY;
        for (long at = 0; at < n; at += Scratch.CHUNK) {
            int m = (int) Math.min(Scratch.CHUNK, n - at);
            if (wide) {
                rows.load(start + at, m, s.da);
                for (int i = 0; i < m; i++) acc = combine(op, acc, s.da[i]);
            } else {
                rows.load(start + at, m, s.fa);
                if (op == ReduceOp.SUM) acc += FloatKernels.sum(s.fa, m);
                else if (op == ReduceOp.MAX) acc = combine(op, acc, hasNaN(s.fa, m) ? Double.NaN : FloatKernels.max(s.fa, m));
                else for (int i = 0; i < m; i++) acc = combine(op, acc, s.fa[i]);
            }
        }
        return acc;
    }

    private static boolean hasNaN(float[] a, int n) {
        for (int i = 0; i < n; i++) if (a[i] != a[i]) return true;
        return false;
    }

    /** Index of the first largest (smallest) element; NaN counts as largest, as in PyTorch. */
    private static long argRow(ReduceOp op, Strided rows, long start, long n) {
        long best = 0;
        double bv = rows.storage.getDouble(rows.indexOf(start));
        for (long i = 1; i < n && bv == bv; i++) {
            double v = rows.storage.getDouble(rows.indexOf(start + i));
            if (v != v || (op == ReduceOp.ARGMAX ? v > bv : v < bv)) { best = i; bv = v; }
        }
        return best;
    }

    /** out[j] = sum_i x[i * cols + j] for contiguous float-lane x: rows are accumulated with vectors. */
    private static void sumLeading(Tensor x, long rowsN, long cols, Tensor out) {
        if (NativeKernels.ENABLED && Zip.eligible(x) && Zip.eligible(out)) {     // the same sums, on the buffers themselves
            java.nio.FloatBuffer xb = Zip.buf("sum", x), ob = Zip.buf("sum", out);
            long xo = x.offset(), oo = out.offset();
            Parallel.forRange(cols, Math.max(256, Parallel.GRAIN / Math.max(rowsN, 1)), (lo, hi) ->
                    NativeKernels.sumLeadingAt(xb, xo, rowsN, cols, lo, hi - lo, ob, oo));
            return;
        }
        Strided in = new Strided(x), o = new Strided(out);
        Parallel.forRange(cols, Math.max(256, Parallel.GRAIN / Math.max(rowsN, 1)), (lo, hi) -> {
            Scratch s = Scratch.get();
            for (long c0 = lo; c0 < hi; c0 += Scratch.CHUNK) {
                int m = (int) Math.min(Scratch.CHUNK, hi - c0);
                Arrays.fill(s.fc, 0, m, 0f);
                Arrays.fill(s.dc, 0, m, 0);
                for (long r = 0; r < rowsN; r++) {
                    in.load(r * cols + c0, m, s.fa);
                    FloatKernels.accumulate(s.fa, s.fc, m);
                    if ((r & 63) == 63) {                       // widen every 64 rows to bound float rounding
                        for (int i = 0; i < m; i++) s.dc[i] += s.fc[i];
                        Arrays.fill(s.fc, 0, m, 0f);
                    }
                }
                for (int i = 0; i < m; i++) s.da[i] = s.dc[i] + s.fc[i];
                o.store(c0, m, s.da);
            }
        });
    }

    static Tensor softmax(Tensor x, int dim, boolean log) {
        int last = x.dim() - 1;
        if (x.dim() == 0) {
            Tensor one = CpuBackend.empty(x.dtype(), new int[0]);
            CpuBackend.INSTANCE.fill(one, log ? 0 : 1);
            return one;
        }
        Tensor in = dim == last ? x : swapped(x, dim, last);
        Tensor out = CpuBackend.empty(x.dtype(), in.shape());
        int len = in.size(-1);
        long rowsN = in.numel() / Math.max(len, 1);
        if (!log && NativeKernels.ENABLED && len > 0 && Zip.eligible(in)) {        // rows straight from buffer to buffer
            java.nio.FloatBuffer ib = Zip.buf("softmax", in), ob = Zip.buf("softmax", out);
            long io = in.offset(), oo = out.offset();
            Parallel.forRange(rowsN, Math.max(1, Parallel.GRAIN / len), (lo, hi) ->
                    NativeKernels.softmaxRowsAt(ib, io + lo * len, ob, oo + lo * len, hi - lo, len));
            return dim == last ? out : swappedBack(out, x, dim, last);
        }
        Strided si = new Strided(in), so = new Strided(out);
        boolean wide = x.dtype().computesInDouble();
        Parallel.forRange(rowsN, Math.max(1, Parallel.GRAIN / Math.max(len, 1)), (lo, hi) -> {
            float[] fr = wide ? null : new float[len], tmp = wide || !log ? null : new float[len];
            double[] dr = wide ? new double[len] : null;
            for (long r = lo; r < hi; r++) {
                if (wide) { si.load(r * len, len, dr); softmaxRow(dr, len, log); so.store(r * len, len, dr); }
                else { si.load(r * len, len, fr); if (log) FloatKernels.logSoftmaxRow(fr, len, tmp); else FloatKernels.softmaxRow(fr, len); so.store(r * len, len, fr); }
            }
        });
        return dim == last ? out : swappedBack(out, x, dim, last);
    }

    /** out (softmax over the swapped last dim) laid out as x again. */
    private static Tensor swappedBack(Tensor out, Tensor x, int dim, int last) {
        Tensor back = CpuBackend.empty(x.dtype(), x.shape());
        CpuBackend.INSTANCE.copy(swapped(out, dim, last), back);
        return back;
    }

    /** The view of t with dims a and b exchanged (not recorded). */
    private static Tensor swapped(Tensor t, int a, int b) {
        int[] sh = t.shape();
        long[] st = t.stride();
        int ts = sh[a]; sh[a] = sh[b]; sh[b] = ts;
        long tt = st[a]; st[a] = st[b]; st[b] = tt;
        return t.asStrided(sh, st, t.offset());
    }

    private static void softmaxRow(double[] v, int n, boolean log) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) max = Math.max(max, v[i]);
        if (max == Double.NEGATIVE_INFINITY) max = 0;
        double sum = 0;
        for (int i = 0; i < n; i++) { v[i] -= max; sum += Math.exp(v[i]); }
        if (log) { double lse = Math.log(sum); for (int i = 0; i < n; i++) v[i] -= lse; }
        else for (int i = 0; i < n; i++) v[i] = Math.exp(v[i]) / sum;
    }
}
