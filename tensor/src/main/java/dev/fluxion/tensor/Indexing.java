package dev.fluxion.tensor;

/** indexSelect, gather, scatterAdd, embedding, maskedFill, tril/triu, oneHot. Indices are int64 or int32. */
final class Indexing {
    private Indexing() {}

    private static void requireIndex(String op, Tensor index) {
        if (index.dtype() != DType.INT64 && index.dtype() != DType.INT32)
            throw new IllegalArgumentException(op + ": index must be int64 or int32, got " + index.dtype());
    }

    static Tensor indexSelect(Tensor x, int dim, Tensor index) {
        requireIndex("indexSelect", index);
        Elementwise.checkDevice("indexSelect", x, index);
        if (index.dim() > 1) throw new IllegalArgumentException("indexSelect: index must be 1-D, got shape " + Shape.str(index.shape()));
        int d = Shape.dim("indexSelect", dim, x.dim());
        Tensor idx = index.dim() == 0 ? index.reshape(1) : index;
        return Autograd.record(new Op.IndexSelect(d), x.backend().indexSelect(x, d, idx), x, idx);
    }

    static Tensor gather(Tensor x, int dim, Tensor index) {
        requireIndex("gather", index);
        Elementwise.checkDevice("gather", x, index);
        int d = Shape.dim("gather", dim, x.dim());
        checkIndexShape("gather", x, d, index);
        return Autograd.record(new Op.Gather(d), x.backend().gather(x, d, index), x, index);
    }

    static Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) {
        requireIndex("scatterAdd", index);
        Elementwise.checkPair("scatterAdd", x, src);
        Elementwise.checkDevice("scatterAdd", x, index);
        int d = Shape.dim("scatterAdd", dim, x.dim());
        checkIndexShape("scatterAdd", x, d, index);
        if (!java.util.Arrays.equals(index.shape(), src.shape()))
            throw new IllegalArgumentException("scatterAdd: src shape " + Shape.str(src.shape()) + " must equal index shape " + Shape.str(index.shape()));
        return Autograd.record(new Op.ScatterAdd(d), x.backend().scatterAdd(x, d, index, src), x, index, src);
    }

    static Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        requireIndex("indexAdd", index);
        Elementwise.checkPair("indexAdd", x, src);
        Elementwise.checkDevice("indexAdd", x, index);
        if (index.dim() != 1) throw new IllegalArgumentException("indexAdd: index must be 1-D, got shape " + Shape.str(index.shape()));
        int d = Shape.dim("indexAdd", dim, x.dim());
        int[] expected = x.shape();
        expected[d] = index.size(0);
        if (!java.util.Arrays.equals(expected, src.shape()))
            throw new IllegalArgumentException("indexAdd: src shape " + Shape.str(src.shape()) + " must be " + Shape.str(expected)
                    + " (the input shape " + Shape.str(x.shape()) + " with dim " + d + " the index length " + index.numel() + ")");
        return Autograd.record(new Op.IndexAdd(d), x.backend().indexAdd(x, d, index, src), x, index, src);
    }

    private static void checkIndexShape(String op, Tensor x, int d, Tensor index) {
        int[] xs = x.shape(), is = index.shape();
        if (is.length != xs.length)
            throw new IllegalArgumentException(op + ": index rank " + is.length + " " + Shape.str(is) + " must equal input rank " + xs.length + " " + Shape.str(xs));
        for (int k = 0; k < xs.length; k++)
            if (k != d && is[k] > xs[k])
                throw new IllegalArgumentException(op + ": index shape " + Shape.str(is) + " exceeds input shape " + Shape.str(xs) + " in dim " + k);
    }

    static Tensor embedding(Tensor weight, Tensor ids) {
        if (weight.dim() != 2) throw new IllegalArgumentException("embedding: weight must be 2-D [num, dim], got " + Shape.str(weight.shape()));
        int[] is = ids.shape(), out = java.util.Arrays.copyOf(is, is.length + 1);
        out[is.length] = weight.shape()[1];
        return indexSelect(weight, 0, ids.reshape(-1)).reshape(out);
    }

    static Tensor maskedFill(Tensor x, Tensor mask, double value) {
        if (mask.dtype() != DType.BOOL) throw new IllegalArgumentException("maskedFill: mask must be bool, got " + mask.dtype());
        int[] b = Shape.broadcast("maskedFill", x.shape(), mask.shape());
        if (!java.util.Arrays.equals(b, x.shape()))
            throw new IllegalArgumentException("maskedFill: mask shape " + Shape.str(mask.shape()) + " does not broadcast to the input shape " + Shape.str(x.shape()));
        return Elementwise.where(mask, Elementwise.scalarLike(x, value, "maskedFill"), x);
    }

    static Tensor triangle(Tensor x, int diagonal, boolean lower) {
        String op = lower ? "tril" : "triu";
        if (x.dim() < 2) throw new IllegalArgumentException(op + ": expects a tensor of rank >= 2, got shape " + Shape.str(x.shape()));
        int n = x.size(-2), m = x.size(-1);
        Tensor rows = Tensor.arange(n).reshape(n, 1), cols = Tensor.arange(m).reshape(1, m);
        Tensor offset = cols.sub(rows).to(x.device());
        Tensor keep = lower ? offset.le(diagonal) : offset.ge(diagonal);
        return Elementwise.where(keep, x, Elementwise.scalarLike(x, 0, op));
    }

    static Tensor oneHot(Tensor ids, int numClasses) {
        if (ids.dtype() != DType.INT64) throw new IllegalArgumentException("oneHot: ids must be int64, got " + ids.dtype());
        if (numClasses <= 0) throw new IllegalArgumentException("oneHot: numClasses must be positive, got " + numClasses);
        long[] v = ids.toLongArray();
        for (int i = 0; i < v.length; i++)
            if (v[i] < 0 || v[i] >= numClasses)
                throw new IndexOutOfBoundsException("oneHot: class id " + v[i] + " at flat position " + i + " is outside [0, " + numClasses + ")");
        return ids.unsqueeze(-1).eq(Tensor.arange(numClasses).to(ids.device())).to(DType.INT64);
    }

    static Tensor element(Tensor x, int[] index) {
        if (index.length != x.dim())
            throw new IllegalArgumentException("get: " + index.length + " indices for a tensor of rank " + x.dim() + " " + Shape.str(x.shape()));
        Tensor t = x.detach();
        for (int i = 0; i < index.length; i++) t = t.select(0, index[i]);
        return t;
    }
}
