package dev.fluxion.tensor;

import java.util.ArrayList;
import java.util.List;

/** cat, stack, split and chunk. */
final class Joins {
    private Joins() {}

    static Tensor cat(List<Tensor> tensors, int dim) {
        if (tensors.isEmpty()) throw new IllegalArgumentException("cat: expects at least one tensor");
        Tensor first = tensors.get(0);
        if (first.dim() == 0) throw new IllegalArgumentException("cat: zero-dimensional tensors cannot be concatenated; use stack");
        int d = Shape.dim("cat", dim, first.dim());
        int[] shape = first.shape();
        long total = 0;
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            Elementwise.checkPair("cat", first, t);
            int[] sh = t.shape();
            if (sh.length != shape.length)
                throw new IllegalArgumentException("cat: tensor " + i + " has rank " + sh.length + " " + Shape.str(sh) + ", tensor 0 has rank " + shape.length);
            for (int k = 0; k < sh.length; k++)
                if (k != d && sh[k] != shape[k])
                    throw new IllegalArgumentException("cat: tensor " + i + " has shape " + Shape.str(sh) + ", tensor 0 has " + Shape.str(shape)
                            + "; sizes must match except in dim " + d);
            total += sh[d];
        }
        shape[d] = Shape.dimSize("cat", total);
        Tensor out = Tensor.empty(first.device(), first.dtype(), shape);
        int at = 0;
        for (Tensor t : tensors) {
            int len = t.shape()[d];
            long[] st = out.stride();
            int[] sh = out.shape();
            sh[d] = len;
            first.backend().copy(t, out.view(sh, st, at * st[d]));
            at += len;
        }
        return Autograd.record(new Op.Cat(d), out, tensors.toArray(new Tensor[0]));
    }

    static Tensor stack(List<Tensor> tensors, int dim) {
        if (tensors.isEmpty()) throw new IllegalArgumentException("stack: expects at least one tensor");
        int[] shape = tensors.get(0).shape();
        int d = Shape.dim("stack", dim, shape.length + 1);
        List<Tensor> parts = new ArrayList<>();
        for (int i = 0; i < tensors.size(); i++) {
            Tensor t = tensors.get(i);
            if (!java.util.Arrays.equals(t.shape(), shape))
                throw new IllegalArgumentException("stack: tensor " + i + " has shape " + Shape.str(t.shape()) + ", tensor 0 has " + Shape.str(shape) + "; all must match");
            parts.add(t.unsqueeze(d));
        }
        return cat(parts, d);
    }

    static List<Tensor> split(Tensor x, int splitSize, int dim) {
        if (splitSize <= 0) throw new IllegalArgumentException("split: split size must be positive, got " + splitSize);
        int d = Shape.dim("split", dim, x.dim());
        int size = x.shape()[d];
        List<Tensor> out = new ArrayList<>();
        for (int s = 0; s < size || s == 0 && size == 0; s += splitSize) {
            out.add(x.narrow(d, s, Math.min(splitSize, size - s)));
            if (size == 0) break;
        }
        return out;
    }

    static List<Tensor> split(Tensor x, int[] sizes, int dim) {
        int d = Shape.dim("split", dim, x.dim());
        int total = 0;
        for (int s : sizes) {
            if (s < 0) throw new IllegalArgumentException("split: sizes must be >= 0, got " + java.util.Arrays.toString(sizes));
            total += s;
        }
        if (total != x.shape()[d])
            throw new IllegalArgumentException("split: sizes " + java.util.Arrays.toString(sizes) + " add up to " + total
                    + ", but dim " + d + " has size " + x.shape()[d]);
        List<Tensor> out = new ArrayList<>();
        int at = 0;
        for (int s : sizes) { out.add(x.narrow(d, at, s)); at += s; }
        return out;
    }

    static List<Tensor> chunk(Tensor x, int chunks, int dim) {
        if (chunks <= 0) throw new IllegalArgumentException("chunk: number of chunks must be positive, got " + chunks);
        int d = Shape.dim("chunk", dim, x.dim());
        int size = x.shape()[d];
        return split(x, Math.max(1, (size + chunks - 1) / chunks), d);
    }
}
