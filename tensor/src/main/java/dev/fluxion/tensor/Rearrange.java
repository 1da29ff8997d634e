package dev.fluxion.tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Ops that rearrange elements: movedim, flip, roll, repeat, tile, pad, unbind, diagonal. Each is written
 * with recorded ops (permute, indexSelect, cat, expand, reshape), so none needs a backward rule.
 */
final class Rearrange {
    private Rearrange() {}

    static Tensor movedim(Tensor x, int[] source, int[] destination) {
        int r = x.dim();
        if (source.length != destination.length)
            throw new IllegalArgumentException("movedim: source " + Arrays.toString(source) + " and destination " + Arrays.toString(destination) + " differ in length");
        int[] order = new int[r];
        Arrays.fill(order, -1);
        boolean[] used = new boolean[r];
        for (int i = 0; i < source.length; i++) {
            int s = Shape.dim("movedim", source[i], r), d = Shape.dim("movedim", destination[i], r);
            if (used[s]) throw new IllegalArgumentException("movedim: source dim " + source[i] + " repeats in " + Arrays.toString(source));
            if (order[d] != -1) throw new IllegalArgumentException("movedim: destination dim " + destination[i] + " repeats in " + Arrays.toString(destination));
            order[d] = s;
            used[s] = true;
        }
        int next = 0;
        for (int i = 0; i < r; i++) {
            if (order[i] != -1) continue;
            while (used[next]) next++;
            order[i] = next++;
        }
        return x.permute(order);
    }

    static Tensor flip(Tensor x, int[] dims) {
        int[] d = Shape.dims("flip", dims, x.dim());
        Tensor out = x;
        for (int k : d) {
            int n = x.shape()[k];
            if (n <= 1) continue;
            out = out.indexSelect(k, Tensor.arange(n - 1, -1, -1, DType.INT64, x.device()));
        }
        return out == x ? x.copy() : out;                       // torch.flip always returns a new tensor
    }

    static Tensor roll(Tensor x, int[] shifts, int[] dims) {
        if (dims.length == 0) {
            if (shifts.length != 1)
                throw new IllegalArgumentException("roll: without dims, expects one shift (over the flattened tensor), got " + Arrays.toString(shifts));
            return roll(x.reshape(-1), shifts, new int[] {0}).reshape(x.shape());
        }
        if (shifts.length != dims.length)
            throw new IllegalArgumentException("roll: shifts " + Arrays.toString(shifts) + " and dims " + Arrays.toString(dims) + " must have the same length");
        Tensor out = x;
        for (int i = 0; i < dims.length; i++) {
            int d = Shape.dim("roll", dims[i], x.dim()), n = x.shape()[d];
            if (n == 0) continue;
            int s = Math.floorMod(shifts[i], n);
            if (s == 0) continue;
            out = Tensor.cat(List.of(out.narrow(d, n - s, s), out.narrow(d, 0, n - s)), d);
        }
        return out == x ? x.copy() : out;
    }

    static Tensor repeat(Tensor x, int[] reps) {
        if (reps.length < x.dim())
            throw new IllegalArgumentException("repeat: " + reps.length + " repeats " + Arrays.toString(reps) + " for a tensor of rank " + x.dim()
                    + " " + Shape.str(x.shape()) + "; give at least one per dim (tile pads with ones)");
        for (int r : reps) if (r < 0) throw new IllegalArgumentException("repeat: repeats must be >= 0, got " + Arrays.toString(reps));
        int n = reps.length;
        int[] sh = new int[n];
        Arrays.fill(sh, 1);
        System.arraycopy(x.shape(), 0, sh, n - x.dim(), x.dim());
        int[] inter = new int[2 * n], expanded = new int[2 * n], out = new int[n];
        for (int i = 0; i < n; i++) {
            inter[2 * i] = 1;
            inter[2 * i + 1] = sh[i];
            expanded[2 * i] = reps[i];
            expanded[2 * i + 1] = sh[i];
            out[i] = Shape.dimSize("repeat", (long) reps[i] * sh[i]);
        }
        return x.reshape(inter).expand(expanded).reshape(out);
    }

    static Tensor tile(Tensor x, int[] reps) {
        if (reps.length >= x.dim()) return repeat(x, reps);
        int[] r = new int[x.dim()];
        Arrays.fill(r, 1);
        System.arraycopy(reps, 0, r, x.dim() - reps.length, reps.length);
        return repeat(x, r);
    }

    /** pad = (left of the last dim, right of the last dim, left of the one before, ...), as torch.nn.functional.pad. */
    static Tensor pad(Tensor x, int[] pad, PadMode mode, double value) {
        if (pad.length % 2 != 0 || pad.length / 2 > x.dim())
            throw new IllegalArgumentException("pad: expects pairs (left, right) for at most " + x.dim() + " trailing dims of " + Shape.str(x.shape())
                    + ", got " + Arrays.toString(pad));
        if (mode != PadMode.CONSTANT && value != 0)
            throw new IllegalArgumentException("pad: a fill value " + value + " only applies to mode CONSTANT, not " + mode);
        Tensor out = x;
        for (int p = 0; p < pad.length / 2; p++) {
            int d = x.dim() - 1 - p, left = pad[2 * p], right = pad[2 * p + 1];
            out = padDim(out, d, left, right, mode, value);
        }
        return out == x ? x.copy() : out;
    }

    private static Tensor padDim(Tensor x, int d, int left, int right, PadMode mode, double value) {
        int n = x.shape()[d];
        if (mode == PadMode.CONSTANT) {
            if (left < 0 || right < 0) {                        // negative padding crops
                int from = Math.max(-left, 0), to = n - Math.max(-right, 0);
                if (to < from) throw new IllegalArgumentException("pad: cropping " + -left + " and " + -right + " from dim " + d + " of size " + n + " leaves nothing");
                x = x.narrow(d, from, to - from);
                left = Math.max(left, 0);
                right = Math.max(right, 0);
            }
            if (left == 0 && right == 0) return x;
            List<Tensor> parts = new ArrayList<>();
            if (left > 0) parts.add(block(x, d, left, value));
            parts.add(x);
            if (right > 0) parts.add(block(x, d, right, value));
            return Tensor.cat(parts, d);
        }
        if (left < 0 || right < 0) throw new IllegalArgumentException("pad: mode " + mode + " needs padding >= 0, got " + left + ", " + right + " for dim " + d);
        if (left == 0 && right == 0) return x;
        int limit = mode == PadMode.REFLECT ? n - 1 : mode == PadMode.CIRCULAR ? n : Integer.MAX_VALUE;
        if (n == 0 || left > limit || right > limit)
            throw new IllegalArgumentException("pad: mode " + mode + " pads dim " + d + " of size " + n + " by " + left + " and " + right
                    + "; each must be " + (mode == PadMode.REFLECT ? "< the size" : mode == PadMode.CIRCULAR ? "<= the size" : "applied to a non-empty dim"));
        long[] li = new long[left], ri = new long[right];
        for (int i = 0; i < left; i++) li[i] = switch (mode) {     // source index of output position i (before x)
            case REFLECT -> left - i;
            case REPLICATE -> 0;
            default -> n - left + i;
        };
        for (int i = 0; i < right; i++) ri[i] = switch (mode) {
            case REFLECT -> n - 2 - i;
            case REPLICATE -> n - 1;
            default -> i;
        };
        List<Tensor> parts = new ArrayList<>();
        if (left > 0) parts.add(x.indexSelect(d, Tensor.of(li, left).to(x.device())));
        parts.add(x);
        if (right > 0) parts.add(x.indexSelect(d, Tensor.of(ri, right).to(x.device())));
        return Tensor.cat(parts, d);
    }

    private static Tensor block(Tensor x, int d, int size, double value) {
        int[] sh = x.shape();
        sh[d] = size;
        return Creation.full(value, x.dtype(), x.device(), sh);
    }

    static List<Tensor> unbind(Tensor x, int dim) {
        int d = Shape.dim("unbind", dim, x.dim());
        List<Tensor> out = new ArrayList<>();
        for (int i = 0; i < x.shape()[d]; i++) out.add(x.select(d, i));
        return out;
    }

    /** The diagonal of the (dim1, dim2) planes as the last dim, offset above (&gt; 0) or below the main one. A copy, not a view. */
    static Tensor diagonal(Tensor x, int offset, int dim1, int dim2) {
        int a = Shape.dim("diagonal", dim1, x.dim()), b = Shape.dim("diagonal", dim2, x.dim());
        if (a == b) throw new IllegalArgumentException("diagonal: dim1 and dim2 must differ, both are " + a + " in " + Shape.str(x.shape()));
        int n = x.shape()[a], m = x.shape()[b];
        int row0 = Math.max(-offset, 0), col0 = Math.max(offset, 0);
        int len = Math.max(0, Math.min(n - row0, m - col0));
        Tensor moved = movedim(x, new int[] {a, b}, new int[] {-2, -1});
        int[] sh = moved.shape();
        int[] flat = Arrays.copyOf(sh, sh.length - 1);
        flat[flat.length - 1] = Shape.dimSize("diagonal", (long) n * m);
        long[] idx = new long[len];
        for (int k = 0; k < len; k++) idx[k] = (long) (k + row0) * m + k + col0;
        return moved.reshape(flat).indexSelect(-1, Tensor.of(idx, len).to(x.device()));
    }
}
