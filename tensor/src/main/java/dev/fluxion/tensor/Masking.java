package dev.fluxion.tensor;

import java.util.Arrays;

/**
 * nonzero, masked_select, advanced indexing with bool masks or integer index tensors (read:
 * {@code x[mask]}, {@code x[i, j]}; write: index_put), and scatter. Positions are found on the host; the
 * data moves with recorded ops (indexSelect, indexAdd, scatterAdd, where), so gradients need no new rule.
 */
final class Masking {
    private Masking() {}

    /** int64 [count, rank]: the index of every non-zero (true) element, in row-major order. */
    static Tensor nonzero(Tensor x) {
        int[] sh = x.shape();
        long[] flat = truePositions(x);
        long[] out = new long[Shape.intCount("nonzero", (long) flat.length * sh.length)];
        for (int k = 0; k < flat.length; k++) {
            long f = flat[k];
            for (int d = sh.length - 1; d >= 0; d--) {
                out[k * sh.length + d] = f % sh[d];
                f /= sh[d];
            }
        }
        return Creation.fromArray(out, flat.length, sh.length).to(x.device());
    }

    /** Row-major positions of the non-zero elements. */
    private static long[] truePositions(Tensor x) {
        double[] v = x.detach().toDoubleArray();
        int n = 0;
        for (double e : v) if (e != 0) n++;
        long[] out = new long[n];
        for (int i = 0, k = 0; i < v.length; i++) if (v[i] != 0) out[k++] = i;
        return out;
    }

    private static void requireMask(String op, Tensor mask) {
        if (mask.dtype() != DType.BOOL) throw new IllegalArgumentException(op + ": mask must be bool, got " + mask.dtype());
    }

    static Tensor maskedSelect(Tensor x, Tensor mask) {
        requireMask("maskedSelect", mask);
        Elementwise.checkDevice("maskedSelect", x, mask);
        int[] b = Shape.broadcast("maskedSelect", x.shape(), mask.shape());
        long[] pos = truePositions(mask.expand(b));
        return x.expand(b).reshape(-1).indexSelect(0, Tensor.of(pos, pos.length).to(x.device()));
    }

    /**
     * The leading-dims positions the indices pick, as flat row numbers of x viewed as [prod(lead), rest...]:
     * one bool mask over the leading dims, or one integer tensor per leading dim (broadcast together).
     */
    private record Rows(long[] flat, int[] resultLead, int leadDims) {}

    private static Rows rows(String op, Tensor x, Tensor[] indices) {
        if (indices.length == 0) throw new IllegalArgumentException(op + ": needs at least one index tensor");
        int[] xs = x.shape();
        if (indices.length == 1 && indices[0].dtype() == DType.BOOL) {
            Tensor mask = indices[0];
            int[] ms = mask.shape();
            if (ms.length > xs.length || !Arrays.equals(ms, Arrays.copyOf(xs, ms.length)))
                throw new IllegalArgumentException(op + ": mask shape " + Shape.str(ms) + " must equal the leading dims of the input " + Shape.str(xs));
            long[] pos = truePositions(mask);
            return new Rows(pos, new int[] {pos.length}, ms.length);
        }
        if (indices.length > xs.length)
            throw new IllegalArgumentException(op + ": " + indices.length + " index tensors for a tensor of rank " + xs.length + " " + Shape.str(xs));
        int[] b = new int[0];
        for (Tensor t : indices) {
            if (t.dtype() != DType.INT64 && t.dtype() != DType.INT32)
                throw new IllegalArgumentException(op + ": index tensors must be int64 or int32 (or one bool mask), got " + t.dtype());
            b = Shape.broadcast(op, b, t.shape());
        }
        long[] flat = new long[Shape.intCount(op, Shape.numel(b))];
        for (int k = 0; k < indices.length; k++) {
            long[] v = indices[k].detach().expand(b).toLongArray();
            int size = xs[k];
            for (int i = 0; i < flat.length; i++) {
                long j = v[i];
                if (j < -size || j >= size)
                    throw new IndexOutOfBoundsException(op + ": index " + j + " is out of range for dim " + k + " of size " + size + " in " + Shape.str(xs));
                flat[i] = flat[i] * size + (j < 0 ? j + size : j);
            }
        }
        return new Rows(flat, b, indices.length);
    }

    /** x viewed as [prod(leading dims), rest...]. */
    private static Tensor asRows(Tensor x, int lead) {
        int[] xs = x.shape();
        int[] sh = new int[xs.length - lead + 1];
        sh[0] = -1;
        System.arraycopy(xs, lead, sh, 1, xs.length - lead);
        return xs.length == 0 ? x.reshape(1) : x.reshape(sh);
    }

    private static int[] resultShape(Rows r, int[] xs) {
        int[] out = Arrays.copyOf(r.resultLead(), r.resultLead().length + xs.length - r.leadDims());
        System.arraycopy(xs, r.leadDims(), out, r.resultLead().length, xs.length - r.leadDims());
        return out;
    }

    static Tensor index(Tensor x, Tensor[] indices) {
        Rows r = rows("index", x, indices);
        Tensor picked = asRows(x, r.leadDims()).indexSelect(0, Tensor.of(r.flat(), r.flat().length).to(x.device()));
        return picked.reshape(resultShape(r, x.shape()));
    }

    static Tensor indexPut(Tensor x, Tensor[] indices, Tensor values, boolean accumulate) {
        Elementwise.checkPair("indexPut", x, values);
        Rows r = rows("indexPut", x, indices);
        int[] target = resultShape(r, x.shape());
        int[] vsh = values.shape();
        boolean fits = vsh.length <= target.length;
        for (int i = 1; fits && i <= vsh.length; i++) fits = vsh[vsh.length - i] == 1 || vsh[vsh.length - i] == target[target.length - i];
        if (!fits)
            throw new IllegalArgumentException("indexPut: values of shape " + Shape.str(values.shape()) + " do not broadcast to the indexed shape " + Shape.str(target));
        Tensor rowsX = asRows(x, r.leadDims());
        int[] vs = rowsX.shape();
        vs[0] = r.flat().length;
        Tensor v = values.expand(target).reshape(vs);
        long[] flat = r.flat();
        if (!accumulate) {
            // without accumulate a repeated position takes the last value written (as PyTorch's CPU kernel)
            java.util.Map<Long, Integer> last = new java.util.LinkedHashMap<>();
            for (int i = 0; i < flat.length; i++) last.put(flat[i], i);
            long[] keepPos = new long[last.size()], keepRow = new long[last.size()];
            int k = 0;
            for (var e : last.entrySet()) { keepRow[k] = e.getKey(); keepPos[k++] = e.getValue(); }
            if (keepPos.length != flat.length) v = v.indexSelect(0, Tensor.of(keepPos, k).to(x.device()));
            flat = keepRow;
        }
        Tensor idx = Tensor.of(flat, flat.length).to(x.device());
        if (accumulate) return rowsX.indexAdd(0, idx, v).reshape(x.shape());
        boolean[] hit = new boolean[rowsX.shape()[0]];
        for (long f : flat) hit[(int) f] = true;
        int[] maskShape = new int[rowsX.dim()];
        Arrays.fill(maskShape, 1);
        maskShape[0] = hit.length;
        Tensor mask = Tensor.of(hit, maskShape).to(x.device());
        Tensor written = Tensor.zerosLike(rowsX).indexAdd(0, idx, v);
        return Tensor.where(mask, written, rowsX).reshape(x.shape());
    }

    /** out = x, then out[index[i][j]][j] = src[i][j] (dim 0; likewise for others), as torch.scatter. */
    static Tensor scatter(Tensor x, int dim, Tensor index, Tensor src) {
        String op = "scatter";
        if (index.dtype() != DType.INT64 && index.dtype() != DType.INT32)
            throw new IllegalArgumentException(op + ": index must be int64 or int32, got " + index.dtype());
        Elementwise.checkPair(op, x, src);
        Elementwise.checkDevice(op, x, index);
        int d = Shape.dim(op, dim, x.dim());
        int[] xs = x.shape(), is = index.shape(), ss = src.shape();
        if (is.length != xs.length || ss.length != xs.length)
            throw new IllegalArgumentException(op + ": index " + Shape.str(is) + " and src " + Shape.str(ss) + " must have the rank of the input " + Shape.str(xs));
        for (int k = 0; k < xs.length; k++)
            if (is[k] > ss[k] || k != d && is[k] > xs[k])
                throw new IllegalArgumentException(op + ": index shape " + Shape.str(is) + " must be <= src shape " + Shape.str(ss)
                        + " in every dim and <= the input shape " + Shape.str(xs) + " outside dim " + d);
        Tensor s = src;
        for (int k = 0; k < xs.length; k++) if (ss[k] != is[k]) s = s.narrow(k, 0, is[k]);
        long[] iv = index.detach().toLongArray();
        long[] xst = Shape.contiguousStrides(xs);
        boolean[] winner = new boolean[iv.length], target = new boolean[Shape.intCount(op, Shape.numel(xs))];
        java.util.Map<Long, Integer> last = new java.util.HashMap<>();
        int[] pos = new int[is.length];
        for (int i = 0; i < iv.length; i++) {
            if (iv[i] < 0 || iv[i] >= xs[d])
                throw new IndexOutOfBoundsException(op + ": index " + iv[i] + " at flat position " + i + " is out of range for dim " + d + " of size " + xs[d]);
            long flat = 0;
            for (int k = 0; k < is.length; k++) flat += (k == d ? iv[i] : pos[k]) * xst[k];
            Integer prev = last.put(flat, i);
            if (prev != null) winner[prev] = false;
            winner[i] = true;
            target[(int) flat] = true;
            for (int k = is.length - 1; k >= 0 && ++pos[k] == is[k]; k--) pos[k] = 0;   // next position of index, row-major
        }
        Tensor win = Tensor.of(winner, is).to(x.device());
        Tensor written = Tensor.zerosLike(x).scatterAdd(d, index, Tensor.where(win, s, Elementwise.scalarLike(s, 0, op)));
        return Tensor.where(Tensor.of(target, xs).to(x.device()), written, x);
    }

    static Tensor scatter(Tensor x, int dim, Tensor index, double value) {
        return scatter(x, dim, index, Creation.full(value, x.dtype(), x.device(), index.shape()));
    }
}
