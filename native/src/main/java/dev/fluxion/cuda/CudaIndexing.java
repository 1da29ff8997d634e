package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * indexSelect, gather and scatterAdd on a GPU (indexing.cu). Indices are checked on the device: a bad one
 * is reported by the next operation that reads values back (see {@link DeviceErrors}), not by this call.
 */
final class CudaIndexing {
    private CudaIndexing() {}

    static Tensor indexSelect(CudaDevice d, Tensor x, int dim, Tensor index) {
        int[] outShape = x.shape();
        outShape[dim] = Shape.dimSize("indexSelect", index.numel());
        Tensor y = Tensor.empty(x.dtype(), d.device, outShape);
        long n = y.numel();
        if (n == 0) return y;
        Iter it = Iter.exact(outShape, x.stride());
        long idxStride = index.dim() == 0 ? 0 : index.stride()[0];
        d.kernels.launch("fx_index_select_" + x.dtype().byteSize(), n, KernelArgs.start().i64(n).ptr(x).ptr(y).iter(it).i32(dim)
                .ptr(index).i32(is64(index)).i64(idxStride).i64(x.size(dim)).ptr(d.errors.address()));
        return y;
    }

    static Tensor gather(CudaDevice d, Tensor x, int dim, Tensor index) {
        Tensor y = Tensor.empty(x.dtype(), d.device, index.shape());
        long n = y.numel();
        if (n == 0) return y;
        Iter it = Iter.exact(index.shape(), x.stride(), index.stride());
        d.kernels.launch("fx_gather_" + x.dtype().byteSize(), n, KernelArgs.start().i64(n).ptr(x).ptr(y).iter(it).i32(dim)
                .ptr(index).i32(is64(index)).i64(x.size(dim)).ptr(d.errors.address()));
        return y;
    }

    static Tensor scatterAdd(CudaDevice d, Tensor x, int dim, Tensor index, Tensor src) {
        Tensor out = Tensor.empty(x.dtype(), d.device, x.shape());
        CudaElementwise.copy(d, x, out);
        long n = index.numel();
        if (n == 0) return out;
        Iter it = Iter.exact(index.shape(), out.stride(), index.stride(), src.stride());
        d.kernels.launch("fx_scatter_add_" + Codes.suffix(x.dtype()), n, KernelArgs.start().i64(n).ptr(out).iter(it).i32(dim)
                .ptr(index).i32(is64(index)).ptr(src).i64(x.size(dim)).ptr(d.errors.address()));
        return out;
    }

    static int is64(Tensor index) {
        if (index.dtype() == DType.INT64) return 1;
        if (index.dtype() == DType.INT32) return 0;
        throw new IllegalArgumentException("cuda: index must be int64 or int32, got " + index.dtype());
    }
}
