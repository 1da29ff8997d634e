package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * sort, argsort, topk, max/min over a dim with indices, and unique. The order is found on the host (NaN
 * sorts above every number, as in PyTorch; ties keep their input order, stable); the values are then
 * gathered from the input with a recorded gather, so their gradient flows to the chosen elements.
 */
final class Sorting {
    private Sorting() {}

    /** int64 indices that sort x along dim (a stable sort). */
    static Tensor argsort(Tensor x, int dim, boolean descending) {
        if (x.dim() == 0) return Creation.full(0, DType.INT64, x.device(), new int[0]);
        int d = Shape.dim("sort", dim, x.dim());
        Tensor moved = x.detach().movedim(d, -1);
        int[] shape = moved.shape();
        int n = shape[shape.length - 1];
        Order asc = order(moved);
        Order cmp = descending ? (i, j) -> asc.compare(j, i) : asc;
        int total = Shape.intCount("sort", moved.numel());
        long[] idx = new long[total];
        int[] row = new int[n], scratch = new int[n];
        for (int base = 0; base < total; base += n) {
            for (int i = 0; i < n; i++) row[i] = base + i;
            mergeSort(row, scratch, 0, n, cmp);
            for (int i = 0; i < n; i++) idx[base + i] = row[i] - base;
        }
        return Creation.fromArray(idx, shape).to(x.device()).movedim(-1, d).contiguous();
    }

    /** A comparison of two flat positions, without boxing them. */
    @FunctionalInterface
    private interface Order { int compare(int i, int j); }

    /** Stable merge sort of a[from, to) by cmp; ties keep their order (so a reversed comparison sorts descending, stably). */
    private static void mergeSort(int[] a, int[] tmp, int from, int to, Order cmp) {
        if (to - from < 2) return;
        int mid = (from + to) >>> 1;
        mergeSort(a, tmp, from, mid, cmp);
        mergeSort(a, tmp, mid, to, cmp);
        if (cmp.compare(a[mid - 1], a[mid]) <= 0) return;           // already in order
        System.arraycopy(a, from, tmp, from, to - from);
        for (int i = from, l = from, r = mid; i < to; i++)
            a[i] = r >= to || l < mid && cmp.compare(tmp[l], tmp[r]) <= 0 ? tmp[l++] : tmp[r++];
    }

    /** Compares flat positions of t (row-major) by value; NaN above everything, all NaNs equal (unique merges them). */
    private static Order order(Tensor t) {
        if (t.dtype().isFloatingPoint()) {
            double[] v = t.toDoubleArray();
            return (i, j) -> {                                       // not Double.compare: -0.0 and 0.0 are equal here, as in PyTorch
                double a = v[i], b = v[j];
                if (a < b) return -1;
                if (a > b) return 1;
                boolean nanA = a != a, nanB = b != b;
                return nanA == nanB ? 0 : nanA ? 1 : -1;
            };
        }
        long[] v = t.toLongArray();
        return (i, j) -> Long.compare(v[i], v[j]);
    }

    static ValuesIndices sort(Tensor x, int dim, boolean descending) {
        Tensor idx = argsort(x, dim, descending);
        return new ValuesIndices(x.dim() == 0 ? x.copy() : x.gather(Shape.dim("sort", dim, x.dim()), idx), idx);
    }

    static ValuesIndices topk(Tensor x, int k, int dim, boolean largest) {
        int d = x.dim() == 0 ? 0 : Shape.dim("topk", dim, x.dim());
        int n = x.dim() == 0 ? 1 : x.shape()[d];
        if (k < 0 || k > n)
            throw new IllegalArgumentException("topk: k " + k + " is out of range for dim " + dim + " of size " + n + " in " + Shape.str(x.shape()));
        if (x.dim() == 0) return sort(x, 0, largest);
        Tensor idx = argsort(x, d, largest).narrow(d, 0, k).contiguous();
        return new ValuesIndices(x.gather(d, idx), idx);
    }

    /** The largest (or smallest) element along dim and its index: the first on ties, a NaN if there is one (as torch.max(x, dim)). */
    static ValuesIndices extremeWithIndex(Tensor x, int dim, boolean keepdim, boolean max) {
        String op = max ? "max" : "min";
        if (x.dim() == 0) return new ValuesIndices(x.copy(), Creation.full(0, DType.INT64, x.device(), new int[0]));
        int d = Shape.dim(op, dim, x.dim());
        int n = x.shape()[d];
        if (n == 0) throw new IllegalArgumentException(op + ": cannot reduce dim " + dim + " of size 0 in " + Shape.str(x.shape()) + "; it has no " + op + "imum");
        Tensor moved = x.detach().movedim(d, -1);
        long[] idx = new long[Shape.intCount(op, moved.numel()) / n];
        if (moved.dtype().isFloatingPoint()) {
            double[] v = moved.toDoubleArray();
            for (int r = 0; r < idx.length; r++) {
                int best = r * n;
                for (int i = best + 1; i < (r + 1) * n && !Double.isNaN(v[best]); i++)   // the first NaN wins, as in PyTorch
                    if (Double.isNaN(v[i]) || (max ? v[i] > v[best] : v[i] < v[best])) best = i;
                idx[r] = best - (long) r * n;
            }
        } else {
            long[] v = moved.toLongArray();
            for (int r = 0; r < idx.length; r++) {
                int best = r * n;
                for (int i = best + 1; i < (r + 1) * n; i++) if (max ? v[i] > v[best] : v[i] < v[best]) best = i;
                idx[r] = best - (long) r * n;
            }
        }
        int[] keep = x.shape();
        keep[d] = 1;
        Tensor index = Creation.fromArray(idx, keep).to(x.device());
        Tensor values = x.gather(d, index);
        return keepdim ? new ValuesIndices(values, index) : new ValuesIndices(values.squeeze(d), index.squeeze(d));
    }

    static Unique unique(Tensor x) {
        long n = x.numel();
        Tensor flat = x.detach().reshape(-1);
        Tensor order = argsort(flat, 0, false);
        long[] ord = order.toLongArray();
        Order cmp = order(flat);
        long[] inverse = new long[ord.length];
        int[] firstOf = new int[ord.length];
        long[] counts = new long[ord.length];
        int u = -1;
        for (int i = 0; i < ord.length; i++) {
            int at = (int) ord[i];
            if (u < 0 || cmp.compare(at, firstOf[u]) != 0) firstOf[++u] = at;
            inverse[at] = u;
            counts[u]++;
        }
        int m = u + 1;
        long[] pick = new long[m];
        for (int i = 0; i < m; i++) pick[i] = firstOf[i];
        Tensor values = flat.indexSelect(0, Tensor.of(pick, m).to(x.device()));
        return new Unique(values, Creation.fromArray(inverse, x.shape()).to(x.device()),
                Creation.fromArray(Arrays.copyOf(counts, m), m).to(x.device()));
    }
}
