package dev.fluxion.cuda;

import dev.fluxion.tensor.Backend;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

/**
 * Random numbers and arange made on a GPU (kernels in random.cu). A draw is Philox 4x32-10 keyed by the 64-bit
 * key the tensor API takes from a {@code Generator} (one value of its stream per draw), with the element group
 * as counter: values depend only on the key and the element index, never on the launch plan, and neither the
 * key nor any value crosses between host and device beyond the kernel's arguments.
 */
final class CudaRandom {
    private CudaRandom() {}

    static Tensor random(CudaDevice d, Backend.Draw draw, long key, DType dtype, int[] shape) {
        if (!dtype.isFloatingPoint()) throw new IllegalArgumentException("cuda random: dtype must be floating point, got " + dtype);
        Tensor t = Tensor.empty(dtype, d.device, shape);
        long n = t.numel();
        if (n == 0) return t;
        boolean normal = draw == Backend.Draw.NORMAL;
        long groups = (n + (dtype == DType.FLOAT64 && !normal ? 1 : 3)) / (dtype == DType.FLOAT64 && !normal ? 2 : 4);
        d.kernels.launch("fx_random", groups, KernelArgs.start().i64(n).i32(Codes.of(dtype)).ptr(t).i32(normal ? 1 : 0).i64(key));
        return t;
    }

    static Tensor arange(CudaDevice d, double start, double step, int n, DType dtype) {
        Tensor t = Tensor.empty(dtype, d.device, n);
        if (n > 0) d.kernels.launch("fx_arange", n, KernelArgs.start().i64(n).i32(Codes.of(dtype)).ptr(t).f64(start).f64(step));
        return t;
    }
}
