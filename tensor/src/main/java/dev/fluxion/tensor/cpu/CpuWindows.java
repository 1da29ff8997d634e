package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.Col2ImOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Im2ColOp;
import dev.fluxion.tensor.MaxPool2dOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;

import java.nio.FloatBuffer;
import java.util.Arrays;

/**
 * float32 CPU kernels of the sliding-window ops: {@link Im2ColOp} (rows of the input copied with
 * System.arraycopy when the stride is 1), {@link Col2ImOp} (one pass per channel, so threads write
 * disjoint planes and the sums do not depend on timing) and {@link MaxPool2dOp} (value and argmax in one
 * pass; backward adds each gradient at its argmax). Other dtypes and chunked storages run the composed
 * defaults.
 */
final class CpuWindows {
    private CpuWindows() {}

    static final FusedKernel<Im2ColOp> IM2COL = (op, in) -> fits(in[0]) && small(colsSize(op.window(), in[0])) ? im2col(op.window(), in[0]) : null;

    static final FusedKernel<Col2ImOp> COL2IM = (op, in) -> fits(in[0]) && small((long) op.n() * op.c() * op.h() * op.w()) ? col2im(op, in[0]) : null;

    static final FusedKernel<MaxPool2dOp> MAX_POOL = new FusedKernel<>() {
        @Override public FusedOp.Result forward(MaxPool2dOp op, Tensor[] in) { return fits(in[0]) ? maxPool(op.window(), in[0]) : null; }

        @Override public Tensor[] backward(MaxPool2dOp op, Saved s, Tensor g) {
            return fits(g) ? new Tensor[] {maxPoolBackward(s.shape(0), s.state(0), g)} : null;
        }
    };

    private static boolean fits(Tensor t) { return t.dtype() == DType.FLOAT32 && CpuStorage.fitsOneBuffer(t) && small(t.numel()); }

    /** Whether n floats fit one buffer and one float[] (what the kernels use); else the composed default runs. */
    private static boolean small(long n) { return n <= CpuStorage.MAX_SINGLE / Float.BYTES; }

    private static long colsSize(Window2d win, Tensor x) {
        return (long) x.size(1) * win.kh() * win.kw() * x.size(0) * win.outH(x.size(2)) * win.outW(x.size(3));
    }

    /** The tensor's elements in row-major order, as one array. */
    private static float[] read(Tensor t) {
        Tensor c = t;
        if (!t.isContiguous()) {
            c = CpuBackend.empty(t.dtype(), t.shape());
            CpuBackend.INSTANCE.copy(t, c);
        }
        float[] a = new float[(int) c.numel()];
        ((CpuStorage) c.storage()).floats("window").get((int) c.offset(), a, 0, a.length);
        return a;
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("window"); }

    /** First j in [0, out) with 0 <= j*s + off < size, and one past the last. */
    private static int lo(int off, int s) { return off >= 0 ? 0 : (-off + s - 1) / s; }

    private static int hi(int off, int s, int size, int out) { return size - off <= 0 ? 0 : Math.min(out, (size - off - 1) / s + 1); }

    /** (N, C, H, W) -> (C*kh*kw, N*OH*OW); parallel over rows of the result. */
    static FusedOp.Result im2col(Window2d win, Tensor x) {
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = win.outH(h), ow = win.outW(w);
        int kk = win.kh() * win.kw(), rows = c * kk, cols = n * oh * ow;
        float[] xa = read(x);
        Tensor out = CpuBackend.empty(DType.FLOAT32, new int[] {rows, cols});
        FloatBuffer ob = buf(out);
        Parallel.forRange(rows, Math.max(1, Parallel.GRAIN / Math.max(cols, 1)), (from, to) -> {
            float[] row = new float[cols];
            for (int r = (int) from; r < to; r++) {
                int ci = r / kk, a = r % kk / win.kw(), b = r % win.kw();
                int colOff = b * win.dw() - win.padLeft();             // iw = j*sw + colOff
                int jlo = lo(colOff, win.sw()), jhi = hi(colOff, win.sw(), w, ow);
                Arrays.fill(row, 0f);
                for (int ni = 0; ni < n; ni++)
                    for (int i = 0; i < oh; i++) {
                        int ih = i * win.sh() - win.padTop() + a * win.dh();
                        if (ih < 0 || ih >= h) continue;
                        int src = ((ni * c + ci) * h + ih) * w + colOff, dst = (ni * oh + i) * ow;
                        if (win.sw() == 1) {
                            if (jhi > jlo) System.arraycopy(xa, src + jlo, row, dst + jlo, jhi - jlo);
                        } else {
                            for (int j = jlo; j < jhi; j++) row[dst + j] = xa[src + j * win.sw()];
                        }
                    }
                ob.put(r * cols, row, 0, cols);
            }
        });
        return new FusedOp.Result(out);
    }

    /** (C*kh*kw, N*OH*OW) -> (N, C, H, W); parallel over channels, each writing only its own planes. */
    static FusedOp.Result col2im(Col2ImOp op, Tensor colsT) {
        Window2d win = op.window();
        int n = op.n(), c = op.c(), h = op.h(), w = op.w(), oh = win.outH(h), ow = win.outW(w);
        int kk = win.kh() * win.kw(), cols = n * oh * ow;
        float[] ca = read(colsT);
        float[] xa = new float[n * c * h * w];
        Parallel.forRange(c, Math.max(1, Parallel.GRAIN / Math.max(kk * cols, 1)), (from, to) -> {
            for (int ci = (int) from; ci < to; ci++)
                for (int k = 0; k < kk; k++) {
                    int a = k / win.kw(), b = k % win.kw(), r = (ci * kk + k) * cols;
                    int colOff = b * win.dw() - win.padLeft();
                    int jlo = lo(colOff, win.sw()), jhi = hi(colOff, win.sw(), w, ow);
                    for (int ni = 0; ni < n; ni++)
                        for (int i = 0; i < oh; i++) {
                            int ih = i * win.sh() - win.padTop() + a * win.dh();
                            if (ih < 0 || ih >= h) continue;
                            int dst = ((ni * c + ci) * h + ih) * w + colOff, src = r + (ni * oh + i) * ow;
                            for (int j = jlo; j < jhi; j++) xa[dst + j * win.sw()] += ca[src + j];
                        }
                }
        });
        Tensor out = CpuBackend.empty(DType.FLOAT32, new int[] {n, c, h, w});
        buf(out).put(0, xa, 0, xa.length);
        return new FusedOp.Result(out);
    }

    /** y and the flat argmax per window; parallel over (n, c) planes. Ties keep the first maximum, a NaN wins. */
    static FusedOp.Result maxPool(Window2d win, Tensor x) {
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = win.outH(h), ow = win.outW(w);
        float[] xa = read(x);
        float[] ya = new float[n * c * oh * ow];
        long[] idx = new long[ya.length];
        int plane = h * w, outPlane = oh * ow;
        Parallel.forRange((long) n * c, Math.max(1, Parallel.GRAIN / Math.max(plane, 1)), (from, to) -> {
            // One output row at a time, window element (a, b) outer and output column j inner: the inner loop
            // reads the input row at stride sw with no bounds tests, and (a, b) in window order keeps the first
            // maximum on ties. Each column starts from its window's first element inside the input.
            float[] best = new float[ow];
            int[] arg = new int[ow];
            for (int p = (int) from; p < to; p++) {
                int base = p * plane, out = p * outPlane;
                for (int i = 0; i < oh; i++) {
                    int ih0 = i * win.sh() - win.padTop();
                    int alo = lo(ih0, win.dh()), ahi = hi(ih0, win.dh(), h, win.kh());   // window rows inside the input
                    int first = (ih0 + alo * win.dh()) * w;
                    for (int j = 0; j < ow; j++) {
                        int iw0 = j * win.sw() - win.padLeft(), blo = lo(iw0, win.dw());
                        if (alo >= ahi || blo >= hi(iw0, win.dw(), w, win.kw())) { best[j] = Float.NEGATIVE_INFINITY; arg[j] = 0; continue; }   // all padding
                        arg[j] = first + iw0 + blo * win.dw();
                        best[j] = xa[base + arg[j]];
                    }
                    for (int a = alo; a < ahi; a++) {
                        int row = (ih0 + a * win.dh()) * w;
                        for (int b = 0; b < win.kw(); b++) {
                            int off = b * win.dw() - win.padLeft();
                            int jlo = lo(off, win.sw()), jhi = hi(off, win.sw(), w, ow), at = row + off + jlo * win.sw();
                            for (int j = jlo; j < jhi; j++, at += win.sw()) {
                                float v = xa[base + at];
                                if (v > best[j] || (v != v && best[j] == best[j])) { best[j] = v; arg[j] = at; }
                            }
                        }
                    }
                    System.arraycopy(best, 0, ya, out + i * ow, ow);
                    for (int j = 0; j < ow; j++) idx[out + i * ow + j] = arg[j];
                }
            }
        });
        Tensor y = CpuBackend.empty(DType.FLOAT32, new int[] {n, c, oh, ow});
        buf(y).put(0, ya, 0, ya.length);
        return new FusedOp.Result(y, Tensor.of(idx, n, c, oh, ow));
    }

    static Tensor maxPoolBackward(int[] xShape, Tensor idxT, Tensor g) {
        int planes = xShape[0] * xShape[1], plane = xShape[2] * xShape[3];
        float[] ga = read(g);
        long[] idx = idxT.toLongArray();
        int outPlane = ga.length / Math.max(planes, 1);
        float[] dx = new float[planes * plane];
        for (int p = 0; p < planes; p++)
            for (int q = 0; q < outPlane; q++) dx[p * plane + (int) idx[p * outPlane + q]] += ga[p * outPlane + q];
        Tensor out = CpuBackend.empty(DType.FLOAT32, xShape);
        buf(out).put(0, dx, 0, dx.length);
        return out;
    }
}
