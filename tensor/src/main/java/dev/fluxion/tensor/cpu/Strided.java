package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.Tensor;

/**
 * Moves runs of a (possibly strided, possibly broadcast) tensor view between its storage and a scratch
 * array, in row-major logical order. Every CPU kernel reads and writes through this, so each kernel is
 * written once over flat arrays and works for any layout: contiguous runs are bulk copies, stride-0 runs
 * (broadcast) are fills, other strides are gathers.
 */
final class Strided {
    final CpuStorage storage;
    final int offset;
    final int[] shape;    // collapsed: adjacent dims merged where the layout allows, size-1 dims dropped
    final int[] strides;
    final int numel;
    final boolean contiguous;

    Strided(Tensor t) {
        this.storage = (CpuStorage) t.storage();
        storage.checkOpen();
        this.offset = t.offset();
        this.numel = t.numel();
        int[] sh = t.shape(), st = t.stride();
        int[] cs = new int[sh.length], ct = new int[sh.length];
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
    int indexOf(int linear) {
        int idx = offset;
        for (int d = shape.length - 1; d >= 0 && linear != 0; d--) {
            idx += (linear % shape[d]) * strides[d];
            linear /= shape[d];
        }
        return idx;
    }

    /** Visits the logical range [start, start+n) as runs along the innermost dim. */
    private interface RunVisitor { void run(int storageIndex, int stride, int len, int dstOff); }

    private void forRuns(int start, int n, RunVisitor v) {
        if (contiguous) { v.run(offset + start, 1, n, 0); return; }
        int r = shape.length;
        int inner = shape[r - 1], innerStride = strides[r - 1];
        int pos = start % inner;
        int done = 0;
        int base = indexOf(start - pos);
        int[] idx = new int[r - 1];
        int rest = (start - pos) / inner;
        for (int d = r - 2; d >= 0; d--) { idx[d] = rest % shape[d]; rest /= shape[d]; }
        while (done < n) {
            int len = Math.min(inner - pos, n - done);
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

    void load(int start, int n, float[] dst) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.readFloats(i, dst, off, len);
            else if (st == 0) java.util.Arrays.fill(dst, off, off + len, s.getFloat(i));
            else for (int k = 0; k < len; k++) dst[off + k] = s.getFloat(i + k * st);
        });
    }

    void load(int start, int n, double[] dst) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.readDoubles(i, dst, off, len);
            else if (st == 0) java.util.Arrays.fill(dst, off, off + len, s.getDouble(i));
            else for (int k = 0; k < len; k++) dst[off + k] = s.getDouble(i + k * st);
        });
    }

    void store(int start, int n, float[] src) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.writeFloats(i, src, off, len);
            else for (int k = 0; k < len; k++) s.setFloat(i + k * st, src[off + k]);
        });
    }

    void store(int start, int n, double[] src) {
        CpuStorage s = storage;
        forRuns(start, n, (i, st, len, off) -> {
            if (st == 1) s.writeDoubles(i, src, off, len);
            else for (int k = 0; k < len; k++) s.setDouble(i + k * st, src[off + k]);
        });
    }

    /** Reads element {@code linear} exactly as a long (indices). */
    long getLong(int linear) { return storage.getLong(indexOf(linear)); }
}
