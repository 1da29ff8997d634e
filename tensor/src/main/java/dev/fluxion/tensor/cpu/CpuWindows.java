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

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.Arrays;

/**
 * float32 CPU kernels of the sliding-window ops: {@link Im2ColOp} (with stride 1 and the input's width, one
 * shifted copy of each input plane per cols row), {@link Col2ImOp} (one pass per channel, so threads write
 * disjoint planes and the sums do not depend on timing; the same shifted runs, added) and {@link MaxPool2dOp}
 * (value and argmax in one pass, a branch-free vectorized 2x2 path; backward adds each gradient at its argmax).
 * Temporaries are per-thread work arrays. Other dtypes and chunked storages run the composed defaults.
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

    /**
     * Elements per piece of work: these kernels are copies and compares at about a nanosecond an element, so a
     * piece below a quarter of a million of them runs faster on the calling thread than handed to a pool worker
     * (a small CNN's im2col and col2im took about twice as long split over 2 busy cores).
     */
    private static final int GRAIN = 4 * Parallel.GRAIN;

    /**
     * Per-thread work arrays, grown as needed up to {@link #CACHED} elements (larger ones are allocated per call):
     * a training step's pooling and im2col then allocate no heap temporaries. Contents are left from the last use;
     * each kernel writes or clears what it reads. Slots: 0 input piece, 1 output piece, 2 and 3 the 2x2 pool's
     * max and place, 4 im2col's whole input.
     */
    private static final class Work {
        static final int CACHED = 1 << 20;
        private static final ThreadLocal<Work> LOCAL = ThreadLocal.withInitial(Work::new);
        private final float[][] floats = new float[5][0];
        private long[] longs = new long[0];

        static float[] floats(int slot, int n) {
            if (n > CACHED) return new float[n];
            Work w = LOCAL.get();
            if (w.floats[slot].length < n) w.floats[slot] = new float[n];
            return w.floats[slot];
        }

        static long[] longs(int n) {
            if (n > CACHED) return new long[n];
            Work w = LOCAL.get();
            if (w.longs.length < n) w.longs = new long[n];
            return w.longs;
        }
    }

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
        int n = (int) c.numel();
        float[] a = Work.floats(4, n);
        ((CpuStorage) c.storage()).floats("window").get((int) c.offset(), a, 0, n);
        return a;
    }

    private static FloatBuffer buf(Tensor t) { return ((CpuStorage) t.storage()).floats("window"); }

    /** First j in [0, out) with 0 <= j*s + off < size, and one past the last. */
    private static int lo(int off, int s) { return off >= 0 ? 0 : (-off + s - 1) / s; }

    private static int hi(int off, int s, int size, int out) { return size - off <= 0 ? 0 : Math.min(out, (size - off - 1) / s + 1); }

    /** (N, C, H, W) -> (C*kh*kw, N*OH*OW); parallel over rows of the result. */
    static FusedOp.Result im2col(Window2d win, Tensor x) {
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = win.outH(h), ow = win.outW(w);
        int kh = win.kh(), kw = win.kw(), kk = kh * kw, rows = c * kk, cols = n * oh * ow;
        int sh = win.sh(), sw = win.sw(), dh = win.dh(), dw = win.dw(), padTop = win.padTop(), padLeft = win.padLeft();
        // Stride 1 and as wide as the input ("same" width): the valid rows of one output plane are one contiguous
        // run of the input plane, shifted; one copy per (row, image), then the columns that wrapped around are zeroed.
        boolean shifted = sh == 1 && sw == 1 && ow == w;
        float[] xa = read(x);
        Tensor out = CpuBackend.empty(DType.FLOAT32, new int[] {rows, cols});
        FloatBuffer ob = buf(out);
        Parallel.forRange(rows, Math.max(1, GRAIN / Math.max(cols, 1)), (from, to) -> {
            float[] row = Work.floats(0, cols);
            for (int r = (int) from; r < to; r++) {
                int ci = r / kk, a = r % kk / kw, b = r % kw;
                int colOff = b * dw - padLeft, rowOff = a * dh - padTop;    // iw = j*sw + colOff, ih = i*sh + rowOff
                int jlo = lo(colOff, sw), jhi = hi(colOff, sw, w, ow);
                Arrays.fill(row, 0, cols, 0f);
                if (jlo < jhi) {
                    if (shifted) shiftedRow(xa, row, ci, c, h, w, oh, n, rowOff, colOff, jlo, jhi);
                    else for (int ni = 0; ni < n; ni++)
                        for (int i = 0; i < oh; i++) {
                            int ih = i * sh + rowOff;
                            if (ih < 0 || ih >= h) continue;
                            int src = ((ni * c + ci) * h + ih) * w + colOff, dst = (ni * oh + i) * ow;
                            if (sw == 1) for (int j = jlo; j < jhi; j++) row[dst + j] = xa[src + j];
                            else for (int j = jlo; j < jhi; j++) row[dst + j] = xa[src + j * sw];
                        }
                }
                ob.put(r * cols, row, 0, cols);
            }
        });
        return new FusedOp.Result(out);
    }

    /** One im2col row when stride is 1 and OW == W: per image one copy of the input plane shifted by (rowOff, colOff). */
    private static void shiftedRow(float[] xa, float[] row, int ci, int c, int h, int w, int oh, int n, int rowOff, int colOff, int jlo, int jhi) {
        int ilo = Math.max(0, -rowOff), ihi = Math.min(oh, h - rowOff);    // output rows that read inside the input
        if (ilo >= ihi) return;
        for (int ni = 0; ni < n; ni++) {
            int plane = (ni * c + ci) * h * w, dst = ni * oh * w;
            int s0 = plane + (ilo + rowOff) * w + colOff, s1 = s0 + (ihi - ilo) * w;
            int c0 = Math.max(s0, plane), c1 = Math.min(s1, plane + h * w);   // the ends outside the plane are padding
            System.arraycopy(xa, c0, row, dst + ilo * w + (c0 - s0), c1 - c0);
        }
        zeroWrapped(row, n, oh, w, ilo, ihi, jlo, jhi);
    }

    /** Zeroes columns [0, jlo) and [jhi, w) of rows [ilo, ihi) of each image's (oh, w) block of a cols row: one short strided loop per column. */
    private static void zeroWrapped(float[] row, int n, int oh, int w, int ilo, int ihi, int jlo, int jhi) {
        for (int j = 0; j < jlo; j++) zeroColumn(row, n, oh, w, ilo, ihi, j);
        for (int j = jhi; j < w; j++) zeroColumn(row, n, oh, w, ilo, ihi, j);
    }

    private static void zeroColumn(float[] row, int n, int oh, int w, int ilo, int ihi, int j) {
        for (int ni = 0; ni < n; ni++)
            for (int i = ilo, at = (ni * oh + ilo) * w + j; i < ihi; i++, at += w) row[at] = 0f;
    }

    /** (C*kh*kw, N*OH*OW) -> (N, C, H, W); parallel over channels, each writing only its own planes. */
    static FusedOp.Result col2im(Col2ImOp op, Tensor colsT0) {
        Window2d win = op.window();
        int n = op.n(), c = op.c(), h = op.h(), w = op.w(), oh = win.outH(h), ow = win.outW(w);
        int kw = win.kw(), kk = win.kh() * kw, cols = n * oh * ow;
        int sh = win.sh(), sw = win.sw(), dh = win.dh(), dw = win.dw(), padTop = win.padTop(), padLeft = win.padLeft();
        Tensor colsT = CpuBackend.contiguousOrCopy(colsT0);
        FloatBuffer cb = buf(colsT);
        int co = (int) colsT.offset();
        Tensor out = CpuBackend.empty(DType.FLOAT32, new int[] {n, c, h, w});
        FloatBuffer xb = buf(out);
        int plane = h * w;
        boolean shifted = sh == 1 && sw == 1 && ow == w;                     // as in im2col: one run per (row, image)
        Parallel.forRange(c, Math.max(1, GRAIN / Math.max(kk * cols, 1)), (from, to) -> {
            float[] ca = Work.floats(0, cols), xa = Work.floats(1, n * plane);   // one cols row; this channel's planes of every image
            for (int ci = (int) from; ci < to; ci++) {
                Arrays.fill(xa, 0, n * plane, 0f);
                for (int k = 0; k < kk; k++) {
                    cb.get(co + (ci * kk + k) * cols, ca, 0, cols);
                    int a = k / kw, b = k % kw;
                    int colOff = b * dw - padLeft, rowOff = a * dh - padTop;
                    int jlo = lo(colOff, sw), jhi = hi(colOff, sw, w, ow);
                    if (jlo >= jhi) continue;
                    if (shifted) { shiftedAdd(ca, xa, n, h, w, oh, rowOff, colOff, jlo, jhi); continue; }
                    for (int ni = 0; ni < n; ni++)
                        for (int i = 0; i < oh; i++) {
                            int ih = i * sh + rowOff;
                            if (ih < 0 || ih >= h) continue;
                            int dst = ni * plane + ih * w + colOff, src = (ni * oh + i) * ow;
                            if (sw == 1) for (int j = jlo; j < jhi; j++) xa[dst + j] += ca[src + j];
                            else for (int j = jlo; j < jhi; j++) xa[dst + j * sw] += ca[src + j];
                        }
                }
                for (int ni = 0; ni < n; ni++) xb.put((ni * c + ci) * plane, xa, ni * plane, plane);
            }
        });
        return new FusedOp.Result(out);
    }

    /**
     * col2im's adjoint of {@link #shiftedRow}: the entries of one cols row that wrapped around (padding) are
     * zeroed in the scratch copy ca, then each image's run is added to its plane in one loop. The zeros land on
     * valid positions (x + 0 == x up to the sign of a zero), so every element gets the same sum in the same order as the row-wise loop.
     */
    private static void shiftedAdd(float[] ca, float[] xa, int n, int h, int w, int oh, int rowOff, int colOff, int jlo, int jhi) {
        int ilo = Math.max(0, -rowOff), ihi = Math.min(oh, h - rowOff), plane = h * w;
        if (ilo >= ihi) return;
        zeroWrapped(ca, n, oh, w, ilo, ihi, jlo, jhi);
        for (int ni = 0; ni < n; ni++) {
            int src = (ni * oh + ilo) * w, dst = ni * plane + (ilo + rowOff) * w + colOff, len = (ihi - ilo) * w;
            int t0 = Math.max(0, ni * plane - dst), t1 = Math.min(len, (ni + 1) * plane - dst);   // the ends outside the plane are padding
            if (NativeKernels.ENABLED) { NativeKernels.addInto(ca, src + t0, xa, dst + t0, t1 - t0); continue; }
            int t = t0 + (Simd.ENABLED ? VectorWindows.addInto(ca, src + t0, xa, dst + t0, t1 - t0) : 0);
            for (; t < t1; t++) xa[dst + t] += ca[src + t];
        }
    }

    /** y and the flat argmax per window; parallel over (n, c) planes. Ties keep the first maximum, a NaN wins. */
    static FusedOp.Result maxPool(Window2d win, Tensor x0) {
        Tensor x = CpuBackend.contiguousOrCopy(x0);
        int n = x.size(0), c = x.size(1), h = x.size(2), w = x.size(3), oh = win.outH(h), ow = win.outW(w);
        int plane = h * w, outPlane = oh * ow, xo = (int) x.offset();
        boolean unpadded = win.padTop() + win.padBottom() + win.padLeft() + win.padRight() == 0 && win.dh() == 1 && win.dw() == 1;
        FloatBuffer xb = buf(x);
        Tensor y = CpuBackend.empty(DType.FLOAT32, new int[] {n, c, oh, ow}), idx = CpuBackend.empty(DType.INT64, new int[] {n, c, oh, ow});
        FloatBuffer yb = buf(y);
        LongBuffer ib = longs(idx);
        Parallel.forRange((long) n * c, Math.max(1, GRAIN / Math.max(plane, 1)), (from, to) -> {
            int planes = (int) (to - from);
            float[] xa = Work.floats(0, planes * plane), ya = Work.floats(1, planes * outPlane);
            long[] ia = Work.longs(planes * outPlane);
            xb.get(xo + (int) from * plane, xa, 0, planes * plane);
            if (unpadded) maxPlanesUnpadded(win, xa, planes, h, w, oh, ow, ya, ia);
            else for (int p = 0; p < planes; p++) maxPlane(win, xa, p * plane, h, w, oh, ow, ya, ia, p * outPlane);
            yb.put((int) from * outPlane, ya, 0, planes * outPlane);
            ib.put((int) from * outPlane, ia, 0, planes * outPlane);
        });
        return new FusedOp.Result(y, idx);
    }

    /**
     * No padding, no dilation: every window lies inside the plane, so no bounds tests; (a, b) in window order.
     * All planes of a piece in one loop nest (C2 compiles this about 4x faster than one call per plane).
     */
    private static void maxPlanesUnpadded(Window2d win, float[] xa, int planes, int h, int w, int oh, int ow, float[] ya, long[] ia) {
        int kh = win.kh(), kw = win.kw(), sh = win.sh(), sw = win.sw();
        if (kh == 2 && kw == 2) {
            maxPlanes2x2(xa, planes, sh, sw, h, w, oh, ow, ya, ia);
            return;
        }
        for (int p = 0; p < planes; p++) {
            int base = p * h * w, out = p * oh * ow;
            for (int i = 0; i < oh; i++)
                for (int j = 0; j < ow; j++) {
                    int first = i * sh * w + j * sw, arg = first;
                    float best = xa[base + first];
                    for (int a = 0; a < kh; a++)
                        for (int b = 0, at = first + a * w; b < kw; b++, at++) {
                            float v = xa[base + at];
                            if (v > best || (v != v && best == best)) { best = v; arg = at; }
                        }
                    ya[out + i * ow + j] = best;
                    ia[out + i * ow + j] = arg;
                }
        }
    }

    /**
     * The most common pool, 2x2 without padding: the max and its place (0..3 in window order) of the window at
     * every flat position of the piece in one pass with no branches (vectorized; windows that straddle a row or
     * plane end are computed and never read), then each output picks its window's position.
     */
    private static void maxPlanes2x2(float[] xa, int planes, int sh, int sw, int h, int w, int oh, int ow, float[] ya, long[] ia) {
        int plane = h * w, n = planes * plane - w - 1;                  // every window's four elements lie inside xa
        float[] m = Work.floats(2, n), which = Work.floats(3, n);
        int start = NativeKernels.ENABLED ? NativeKernels.max2x2(xa, w, m, which, n) : Simd.ENABLED ? VectorWindows.max2x2(xa, w, m, which, n) : 0;
        for (int q = start; q < n; q++) max2x2At(xa, w, m, which, q);
        for (int p = 0; p < planes; p++)
            for (int i = 0, out = p * oh * ow; i < oh; i++)
                for (int j = 0; j < ow; j++, out++) {
                    int at = i * sh * w + j * sw, q = p * plane + at, s = (int) which[q];
                    ya[out] = m[q];
                    ia[out] = at + (s >> 1) * w + (s & 1);
                }
    }

    /** The window at q (top-left) of rows w wide: its max into m[q], its place 0..3 (first in window order, a NaN wins) into which[q]. */
    static void max2x2At(float[] x, int w, float[] m, float[] which, int q) {
        float a = x[q], b = x[q + 1], c = x[q + w], d = x[q + w + 1];
        boolean tb = takes(b, a), td = takes(d, c);
        float top = tb ? b : a, bottom = td ? d : c;
        boolean tv = takes(bottom, top);
        m[q] = tv ? bottom : top;
        which[q] = tv ? (td ? 3 : 2) : (tb ? 1 : 0);
    }

    /** Whether v replaces best in a max that keeps the first maximum and lets a NaN win. */
    private static boolean takes(float v, float best) { return v > best || (v != v && best == best); }

    /** Any window: one output row at a time, window element (a, b) outer and output column j inner. */
    private static void maxPlane(Window2d win, float[] xa, int base, int h, int w, int oh, int ow, float[] ya, long[] ia, int out) {
        // The inner loop reads the input row at stride sw with no bounds tests, and (a, b) in window order keeps the first
        // maximum on ties. Each column starts from its window's first element inside the input.
        float[] best = new float[ow];
        int[] arg = new int[ow];
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
            for (int j = 0; j < ow; j++) ia[out + i * ow + j] = arg[j];
        }
    }

    /** dx (xShape): each plane zero but for g added at its argmax; parallel over planes, each thread writing its own. */
    static Tensor maxPoolBackward(int[] xShape, Tensor idx0, Tensor g0) {
        Tensor g = CpuBackend.contiguousOrCopy(g0), idxT = idx0.dtype() == DType.INT64 ? CpuBackend.contiguousOrCopy(idx0) : idx0.to(DType.INT64).contiguous();
        int planes = xShape[0] * xShape[1], plane = xShape[2] * xShape[3];
        int outPlane = (int) (g.numel() / Math.max(planes, 1));
        FloatBuffer gb = buf(g);
        LongBuffer ib = longs(idxT);
        int go = (int) g.offset(), io = (int) idxT.offset();
        Tensor out = CpuBackend.empty(DType.FLOAT32, xShape);
        FloatBuffer db = buf(out);
        if (NativeKernels.ENABLED) {       // in C, buffer to buffer (no copies through Java arrays)
            ByteBuffer ibytes = ((CpuStorage) idxT.storage()).bytes("max_pool2d backward");
            Parallel.forRange(planes, Math.max(1, GRAIN / Math.max(plane, 1)), (from, to) -> {
                long bad = NativeKernels.maxPoolBackwardAt(gb, go + from * outPlane, ibytes, io + from * outPlane, to - from, outPlane, plane, db, from * plane);
                if (bad >= 0) throw outsidePlane(ib.get((int) (io + from * outPlane + bad)), from * outPlane + bad, plane);
            });
            return out;
        }
        Parallel.forRange(planes, Math.max(1, GRAIN / Math.max(plane, 1)), (from, to) -> {
            int count = (int) (to - from);
            float[] ga = Work.floats(0, count * outPlane), dx = Work.floats(1, count * plane);
            long[] ia = Work.longs(count * outPlane);
            gb.get(go + (int) from * outPlane, ga, 0, count * outPlane);
            ib.get(io + (int) from * outPlane, ia, 0, count * outPlane);
            Arrays.fill(dx, 0, count * plane, 0f);
            for (int p = 0; p < count; p++)
                for (int q = 0; q < outPlane; q++) {
                    long at = ia[p * outPlane + q];
                    if (at < 0 || at >= plane) throw outsidePlane(at, from * outPlane + (long) p * outPlane + q, plane);
                    dx[p * plane + (int) at] += ga[p * outPlane + q];
                }
            db.put((int) from * plane, dx, 0, count * plane);
        });
        return out;
    }

    private static IllegalArgumentException outsidePlane(long index, long output, int plane) {
        return new IllegalArgumentException("max_pool2d backward: index " + index + " of output " + output + " is outside its plane of "
                + plane + " elements (expected 0 <= index < " + plane + ")");
    }

    /** An int64 tensor's storage as longs, native order (a duplicate: the shared buffer's position is not touched). */
    private static LongBuffer longs(Tensor t) {
        return ((CpuStorage) t.storage()).bytes("window").duplicate().clear().order(java.nio.ByteOrder.nativeOrder()).asLongBuffer();
    }
}
