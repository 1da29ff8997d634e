package dev.fluxion.tensor;

/**
 * The seam between the tensor API and a device: the small set of primitive kernels every backend
 * implements. The public ops check their arguments, broadcast and build views, then call one of these.
 * Inputs may be any strided view on this backend's device; outputs are new contiguous tensors unless the
 * method writes into {@code dst}. A CUDA backend plugs in through {@link java.util.ServiceLoader} as a
 * {@link BackendProvider}. Fused ops (layer norm, cross-entropy) are not methods here: a backend registers
 * kernels for them in {@link FusedKernels}.
 */
public interface Backend {
    Device device();

    /** Storage for {@code numel} elements; contents undefined. */
    Storage allocate(DType dtype, long numel);

    /** y = op(x), same shape and dtype. */
    Tensor unary(UnaryOp op, Tensor x);

    /** y = op(a, b); a and b have y's shape; y has a's dtype, or bool for comparisons. */
    Tensor binary(BinaryOp op, Tensor a, Tensor b);

    /** y = cond ? a : b, all of one shape. */
    Tensor where(Tensor cond, Tensor a, Tensor b);

    /**
     * Reduces the sorted, distinct {@code dims}; ARGMAX/ARGMIN take exactly one dim and yield int64. SUM of an
     * integer or bool tensor yields int64 (as torch.sum), without an int64 copy of x where the backend can.
     */
    Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepdim);

    /** Softmax or log-softmax along dim. */
    Tensor softmax(Tensor x, int dim, boolean log);

    /** [B, M, K] @ [B, K, N] -> [B, M, N]. */
    Tensor matmul(Tensor a, Tensor b);

    /** dst[...] = src[...] converted to dst's dtype; same shapes; dst may be a strided view. */
    void copy(Tensor src, Tensor dst);

    /** Every element of the view dst set to value. */
    void fill(Tensor dst, double value);

    /** Rows of x along dim picked by a 1-D int64 index. */
    Tensor indexSelect(Tensor x, int dim, Tensor index);

    /** y[i][j] = x[index[i][j]][j] (dim 0; likewise for other dims); y has index's shape. */
    Tensor gather(Tensor x, int dim, Tensor index);

    /** y = x, then y[index[i][j]][j] += src[i][j] (dim 0; likewise for other dims). */
    Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src);

    /** The distributions a backend may draw on its device ({@link #random}). */
    enum Draw { UNIFORM, NORMAL }

    /**
     * A new contiguous tensor of a float dtype and shape holding random values made on this device: uniform on
     * [0, 1) or standard normal, a pure function of key (the random ops take one value of a {@link Generator}'s
     * stream per draw as the key, so a seed reproduces every draw and no random values cross from the host).
     * Null (the default) where the backend has no device generator: the caller then draws on the host and uploads.
     */
    default Tensor random(Draw draw, long key, DType dtype, int[] shape) { return null; }

    /**
     * A new contiguous int64 tensor of shape holding integers uniform on [low, high) (low &lt; high, checked by the
     * caller; any such pair, up to the whole int64 range), a pure function of key as {@link #random}. Null (the
     * default) to draw on the host and upload.
     */
    default Tensor randint(long key, long low, long high, int[] shape) { return null; }

    /**
     * The 1-D tensor start + i * step for i &lt; n, each value computed in double and converted to dtype (the
     * values of {@code Tensor.arange}), made on this device; null (the default) to build it on the host.
     */
    default Tensor arange(double start, double step, int n, DType dtype) { return null; }

    /**
     * y = x, then y.select(dim, index[i]) += src.select(dim, i) for a 1-D index (the gradient of indexSelect
     * and embedding). The default goes through scatterAdd; backends may do better.
     */
    default Tensor indexAdd(Tensor x, int dim, Tensor index, Tensor src) {
        int[] shape = new int[src.dim()];
        java.util.Arrays.fill(shape, 1);
        shape[dim] = index.size(0);
        return scatterAdd(x, dim, index.reshape(shape).expand(src.shape()), src);
    }
}
