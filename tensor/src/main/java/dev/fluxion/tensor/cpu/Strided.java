package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.Tensor;

/**
 * Moves runs of a (possibly strided, possibly broadcast) tensor view between its storage and a scratch
 * array, in row-major logical order. Every CPU kernel reads and writes through this, so each kernel is
 * written once over flat arrays and works for any layout: contiguous runs are bulk copies, stride-0 runs
 * (broadcast) are fills, other strides are gathers. Indices, offsets and strides are long (a tensor may
 * hold more than 2^31 elements); a run handed to a scratch array is an int count, and the per-element
 * gathers step by a long stride without division.
 */
final class Strided {
    final CpuStorage storage;
    final long offset;
    final long[] shape;   // collapsed: adjacent dims merged where the layout allows (so sizes may pass 2^31), size-1 dims dropped
    final long[] strides;
    final long numel;
    final boolean contiguous;

    Strided(Tensor t) {
        this.storage = (CpuStorage) t.storage();
        storage.checkOpen();
        this.offset = t.offset();
        this.numel = t.numel();
        int[] sh = t.shape();
        long[] st = t.stride();
        long[] cs = new long[sh.length], ct = new long[sh.length];
        int r = 0;
        for (int i = 0; i < sh.length; i++) {
            if (sh[i] == 1) continue;
            if (r > 0 && ct[r - 1] == st[i] * sh[i]) {        // previous dim steps exactly over this one: merge
                cs[r - 1] *= sh[i];
                ct[r - 1] = st[i];
            } else {
                cs[r] = sh[i];
                ct[r] = st[i];
                r++;
            }
        }
        this.shape = java.util.Arrays.copyOf(cs, r);
        this.strides = java.util.Arrays.copyOf(ct, r);
        this.contiguous = r == 0 || r == 1 && strides[0] == 1;
    }

    /** Storage index of logical element {@code linear}. */
    long indexOf(long linear) {
        long idx = offset;
        for (int d = shape.length - 1; d >= 0 && linear != 0; d--) {
            idx += (linear % shape[d]) * strides[d];
            linear /= shape[d];
        }
        return idx;
    }

    /** Visits the logical range [start, start+n) as runs along the innermost dim. */
    private interface RunVisitor { void run(long storageIndex, long stride, int len, int dstOff); }

    private void forRuns(long start, int n, RunVisitor v) {
        if (contiguous) { v.run(offset + start, 1, n, 0); return; }
        int r = shape.length;
        long inner = shape[r - 1], innerStride = strides[r - 1];
        long pos = start % inner;
        int done = 0;
        long base = indexOf(start - pos);
        long[] idx = new long[r - 1];
        long rest = (start - pos) / inner;
        for (int d = r - 2; d >= 0; d--) { idx[d] = rest % shape[d]; rest /= shape[d]; }
        while (done < n) {
            int len = (int) Math.min(inner - pos, n - done);
            v.run(base + pos * innerStride, innerStride, len, done);
            done += len;
            pos = 0;
            for (int d = r - 2; d >= 0; d--) {               // odometer over the outer dims
                base += strides[d];
                if (++idx[d] < shape[d]) break;
                base -= strides[d] * shape[d];
                idx[d] = 0;
            }
        }
    }

    void load(long start, int n, float[] dst) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.readFloats(i, dst, off, len);
            else if (st == 0) java.util.Arrays.fill(dst, off, off + len, s.getFloat(i));
            else for (int k = 0; k < len; k++) dst[off + k] = s.getFloat(i + k * st);
        });
    }

    void load(long start, int n, double[] dst) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.readDoubles(i, dst, off, len);
            else if (st == 0) java.util.Arrays.fill(dst, off, off + len, s.getDouble(i));
            else for (int k = 0; k < len; k++) dst[off + k] = s.getDouble(i + k * st);
        });
    }

    void store(long start, int n, float[] src) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.writeFloats(i, src, off, len);
            else for (int k = 0; k < len; k++) s.setFloat(i + k * st, src[off + k]);
        });
    }

    void store(long start, int n, double[] src) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.writeDoubles(i, src, off, len);
            else for (int k = 0; k < len; k++) s.setDouble(i + k * st, src[off + k]);
        });
    }

    /** Reads element {@code linear} exactly as a long (indices). */
    long getLong(long linear) { return storage.getLong(indexOf(linear)); }
}
