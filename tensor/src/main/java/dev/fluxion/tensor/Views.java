package dev.fluxion.tensor;

import java.util.Arrays;

/** Ops that make views (no copy) plus contiguous/copy. Each view op records itself for autograd. */
final class Views {
    private Views() {}

    static Tensor reshape(Tensor x, int[] newShape) {
        int[] shape = inferShape("reshape", x, newShape);
        long[] strides = viewStrides(x, shape);
        if (strides == null) {
            Tensor c = contiguous(x);
            return Autograd.record(new Op.Reshape(x.shape(), shape), c.view(shape, Shape.contiguousStrides(shape), c.offset()), c);
        }
        return Autograd.record(new Op.Reshape(x.shape(), shape), x.view(shape, strides, x.offset()), x);
    }

    static Tensor view(Tensor x, int[] newShape) {
        int[] shape = inferShape("view", x, newShape);
        long[] strides = viewStrides(x, shape);
        if (strides == null)
            throw new IllegalArgumentException("view: a tensor of shape " + Shape.str(x.shape()) + " and strides " + Shape.str(x.stride())
                    + " cannot be viewed as " + Shape.str(shape) + " without a copy; use reshape()");
        return Autograd.record(new Op.Reshape(x.shape(), shape), x.view(shape, strides, x.offset()), x);
    }

    static Tensor flatten(Tensor x, int start, int end) {
        int r = x.dim();
        if (r == 0) return reshape(x, new int[] {1});
        int s = Shape.dim("flatten", start, r), e = Shape.dim("flatten", end, r);
        if (s > e) throw new IllegalArgumentException("flatten: start dim " + start + " comes after end dim " + end);
        int[] sh = x.shape();
        int[] out = new int[r - (e - s)];
        int k = 0;
        for (int i = 0; i < s; i++) out[k++] = sh[i];
        long m = 1;
        for (int i = s; i <= e; i++) m *= sh[i];
        out[k++] = Shape.dimSize("flatten", m);
        for (int i = e + 1; i < r; i++) out[k++] = sh[i];
        return reshape(x, out);
    }

    private static int[] inferShape(String op, Tensor x, int[] requested) {
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < requested.length; i++) {
            if (requested[i] == -1) {
                if (inferred >= 0) throw new IllegalArgumentException(op + ": only one dimension can be -1, got " + Shape.str(requested));
                inferred = i;
            } else if (requested[i] < 0) {
                throw new IllegalArgumentException(op + ": invalid size " + requested[i] + " in " + Shape.str(requested));
            } else if (requested[i] != 0) {
                if (requested[i] > Long.MAX_VALUE / known)
                    throw new IllegalArgumentException(op + ": shape " + Shape.str(requested) + " has more than 2^63-1 elements");
                known *= requested[i];
            }
        }
        for (int d : requested) if (d == 0) known = 0;
        int[] shape = requested.clone();
        long n = x.numel();
        if (inferred >= 0) {
            if (known == 0 || n % known != 0)
                throw new IllegalArgumentException(op + ": shape " + Shape.str(requested) + " is invalid for a tensor of " + n + " elements " + Shape.str(x.shape()));
            shape[inferred] = Shape.dimSize(op, n / known);
        } else if (known != n) {
            throw new IllegalArgumentException(op + ": shape " + Shape.str(requested) + " (" + known + " elements) is invalid for a tensor of "
                    + n + " elements " + Shape.str(x.shape()));
        }
        return shape;
    }

    /** Strides that show x's elements in shape without copying, or null (PyTorch's computeStride). */
    static long[] viewStrides(Tensor x, int[] shape) {
        if (x.isContiguous()) return Shape.contiguousStrides(shape);
        int[] oldShape = x.shape();
        long[] oldStride = x.stride();
        long[] newStride = new long[shape.length];
        int viewD = shape.length - 1;
        long chunkBase = oldStride[oldStride.length - 1];
        long tensorNumel = 1, viewNumel = 1;
        for (int td = oldShape.length - 1; td >= 0; td--) {
            tensorNumel *= oldShape[td];
            if (td == 0 || oldShape[td - 1] != 1 && oldStride[td - 1] != tensorNumel * chunkBase) {
                while (viewD >= 0 && (viewNumel < tensorNumel || shape[viewD] == 1)) {
                    newStride[viewD] = viewNumel * chunkBase;
                    viewNumel *= shape[viewD];
                    viewD--;
                }
                if (viewNumel != tensorNumel) return null;
                if (td > 0) {
                    chunkBase = oldStride[td - 1];
                    tensorNumel = 1;
                    viewNumel = 1;
                }
            }
        }
        return viewD == -1 ? newStride : null;
    }

    static Tensor permute(Tensor x, int[] order) {
        int r = x.dim();
        if (order.length != r)
            throw new IllegalArgumentException("permute: order " + Arrays.toString(order) + " has " + order.length + " dims, tensor has " + r);
        int[] o = new int[r];
        boolean[] seen = new boolean[r];
        for (int i = 0; i < r; i++) {
            o[i] = Shape.dim("permute", order[i], r);
            if (seen[o[i]]) throw new IllegalArgumentException("permute: dim " + order[i] + " repeats in " + Arrays.toString(order));
            seen[o[i]] = true;
        }
        int[] sh = x.shape(), ns = new int[r];
        long[] st = x.stride(), nt = new long[r];
        for (int i = 0; i < r; i++) { ns[i] = sh[o[i]]; nt[i] = st[o[i]]; }
        return Autograd.record(new Op.Permute(o), x.view(ns, nt, x.offset()), x);
    }

    static Tensor transpose(Tensor x, int d0, int d1) {
        int r = x.dim();
        if (r == 0) return x.alive();
        int a = Shape.dim("transpose", d0, r), b = Shape.dim("transpose", d1, r);
        int[] order = new int[r];
        for (int i = 0; i < r; i++) order[i] = i;
        order[a] = b;
        order[b] = a;
        return permute(x, order);
    }

    static Tensor t(Tensor x) {
        if (x.dim() > 2) throw new IllegalArgumentException("t: expects a tensor of rank <= 2, got shape " + Shape.str(x.shape()) + "; use transpose(d0, d1)");
        return x.dim() < 2 ? x : transpose(x, 0, 1);
    }

    static Tensor slice(Tensor x, int dim, int start, int end, int step) {
        int d = Shape.dim("slice", dim, x.dim());
        if (step <= 0) throw new IllegalArgumentException("slice: step must be positive, got " + step);
        int size = x.shape()[d];
        int s = start < 0 ? start + size : start, e = end < 0 ? end + size : end;
        s = Math.max(0, Math.min(s, size));
        e = Math.max(s, Math.min(e, size));
        int[] sh = x.shape();
        long[] st = x.stride();
        int n = (int) (((long) e - s + step - 1) / step);
        long offset = x.offset() + s * st[d];
        sh[d] = n;
        st[d] *= step;
        return Autograd.record(new Op.Slice(d, s, e, step), x.view(sh, st, offset), x);
    }

    /** PyTorch's narrow: start in [-size, size] (negative counts from the end), length >= 0, start + length <= size. */
    static Tensor narrow(Tensor x, int dim, int start, int length) {
        int d = Shape.dim("narrow", dim, x.dim());
        int size = x.shape()[d];
        if (start < -size || start > size)
            throw new IllegalArgumentException("narrow: start " + start + " is out of range for dim " + dim + " of size " + size + " (expected " + -size + " to " + size + ")");
        int s = start < 0 ? start + size : start;
        if (length < 0 || (long) s + length > size)
            throw new IllegalArgumentException("narrow: start " + start + " and length " + length + " exceed dim " + dim + " of size " + size
                    + " (length must be >= 0 and start + length <= " + size + ")");
        return slice(x, d, s, s + length, 1);
    }

    static Tensor select(Tensor x, int dim, int index) {
        int d = Shape.dim("select", dim, x.dim());
        int size = x.shape()[d];
        if (index < -size || index >= size)
            throw new IndexOutOfBoundsException("select: index " + index + " is out of range for dim " + dim + " of size " + size);
        int i = index < 0 ? index + size : index;
        Tensor s = slice(x, d, i, i + 1, 1);
        int[] sh = x.shape();
        int[] out = new int[sh.length - 1];
        for (int k = 0, j = 0; k < sh.length; k++) if (k != d) out[j++] = sh[k];
        return reshape(s, out);
    }

    static Tensor squeeze(Tensor x) {
        return reshape(x, Arrays.stream(x.shape()).filter(v -> v != 1).toArray());
    }

    static Tensor squeeze(Tensor x, int dim) {
        int d = Shape.dim("squeeze", dim, x.dim());
        if (x.dim() == 0 || x.shape()[d] != 1) return x.alive();
        int[] sh = x.shape(), out = new int[sh.length - 1];
        for (int k = 0, j = 0; k < sh.length; k++) if (k != d) out[j++] = sh[k];
        return reshape(x, out);
    }

    static Tensor unsqueeze(Tensor x, int dim) {
        int d = Shape.dim("unsqueeze", dim, x.dim() + 1);
        int[] sh = x.shape(), out = new int[sh.length + 1];
        for (int k = 0, j = 0; k < out.length; k++) out[k] = k == d ? 1 : sh[j++];
        return reshape(x, out);
    }

    static Tensor expand(Tensor x, int[] newShape) {
        int[] shape = expandedShape(x, newShape);
        if (Arrays.equals(shape, x.shape())) return x.alive();
        return Autograd.record(new Op.Expand(x.shape(), shape), expandRaw(x, shape), x);
    }

    private static int[] expandedShape(Tensor x, int[] newShape) {
        int[] sh = x.shape();
        if (newShape.length < sh.length)
            throw new IllegalArgumentException("expand: target " + Shape.str(newShape) + " has fewer dims than the tensor " + Shape.str(sh));
        int[] out = newShape.clone();
        int lead = newShape.length - sh.length;
        for (int i = 0; i < newShape.length; i++) {
            int old = i < lead ? 1 : sh[i - lead];
            if (newShape[i] == -1) {
                if (i < lead) throw new IllegalArgumentException("expand: -1 is not allowed for the new leading dim " + i + " in " + Shape.str(newShape));
                out[i] = old;
            } else if (old != 1 && old != newShape[i]) {
                throw new IllegalArgumentException("expand: the size " + old + " of dim " + (i - lead) + " of " + Shape.str(sh)
                        + " cannot expand to " + newShape[i] + " (only size-1 dims expand) in target " + Shape.str(newShape));
            }
        }
        return out;
    }

    /** The stride-0 view of x broadcast to shape (not recorded: callers record what they need). */
    static Tensor expandRaw(Tensor x, int[] shape) {
        int[] sh = x.shape();
        if (Arrays.equals(sh, shape)) return x.alive();
        long[] st = x.stride(), ns = new long[shape.length];
        int lead = shape.length - sh.length;
        for (int i = lead; i < shape.length; i++) ns[i] = sh[i - lead] == shape[i] ? st[i - lead] : 0;
        return x.view(shape.clone(), ns, x.offset());
    }

    static Tensor contiguous(Tensor x) {
        if (x.isContiguous()) return x.alive();
        return Autograd.record(new Op.Contiguous(), copyRaw(x), x);
    }

    static Tensor copy(Tensor x) {
        return Autograd.record(new Op.Contiguous(), copyRaw(x), x);
    }

    static Tensor copyRaw(Tensor x) {
        Tensor out = Tensor.empty(x.device(), x.dtype(), x.shape());
        x.backend().copy(x, out);
        return out;
    }
}
