package dev.fluxion.cuda;

import dev.fluxion.tensor.Backend;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.DropoutOp;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;

/**
 * Random numbers (uniform, normal, randint), the fused dropout and arange made on a GPU (kernels in random.cu). A draw is Philox 4x32-10 keyed by the 64-bit
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

    /** int64 values uniform on [low, high) (low &lt; high, checked by the caller): fx_randint, two Philox words an element. */
    static Tensor randint(CudaDevice d, long key, long low, long high, int[] shape) {
        Tensor t = Tensor.empty(DType.INT64, d.device, shape);
        long n = t.numel();
        // high - low wraps for ranges over 2^63; the kernel reads it as unsigned, where it is exact for every low < high
        if (n > 0) d.kernels.launch("fx_randint", (n + 1) / 2, KernelArgs.start().i64(n).ptr(t).i64(low).i64(high - low).i64(key));
        return t;
    }

    /**
     * The CUDA kernels of {@link DropoutOp}: the forward writes y and the bool mask in one pass (fx_dropout_fwd_*,
     * the uniforms of fx_random's float32 draw for the op's key, so the mask is the composed path's), the backward
     * dx = mask ? g * scale : 0 in one pass (fx_dropout_bwd_*). Both decline (the composed default runs) for a
     * dtype random.cu has no kernel for.
     */
    static final class Dropout implements FusedKernel<DropoutOp> {
        @Override public FusedOp.Result forward(DropoutOp op, Tensor[] in) {
            Tensor x = in[0];
            if (!covered(x.dtype())) return null;
            CudaDevice d = Fused.device("dropout", x);
            Tensor y = Tensor.empty(x.dtype(), d.device, x.shape()), mask = Tensor.empty(DType.BOOL, d.device, x.shape());
            long n = x.numel();
            if (n == 0) return new FusedOp.Result(y, mask);
            Iter it = Iter.of(x.shape(), x.stride());
            d.kernels.launch("fx_dropout_fwd_" + Codes.suffix(x.dtype()), (n + 3) / 4, KernelArgs.start().i64(n).ptr(x).iter(it)
                    .i32(it.contiguous(0) ? 1 : 0).ptr(y).ptr(mask).f32((float) op.p()).f64(op.scale()).i64(op.key()));
            return new FusedOp.Result(y, mask);
        }

        @Override public Tensor[] backward(DropoutOp op, Saved s, Tensor g) {
            Tensor mask = s.state(0);
            if (!covered(g.dtype()) || mask.dtype() != DType.BOOL || !Arrays.equals(mask.shape(), g.shape())) return null;
            CudaDevice d = Fused.device("dropout backward", g);
            Tensor m = mask.contiguous(), dx = Tensor.empty(g.dtype(), d.device, g.shape());
            long n = g.numel();
            if (n == 0) return new Tensor[] {dx};
            Iter it = Iter.of(g.shape(), g.stride());
            d.kernels.launch("fx_dropout_bwd_" + Codes.suffix(g.dtype()), n, KernelArgs.start().i64(n).ptr(g).iter(it)
                    .i32(it.contiguous(0) ? 1 : 0).ptr(m).ptr(dx).f64(op.scale()));
            return new Tensor[] {dx};
        }

        private static boolean covered(DType t) {
            return t == DType.FLOAT32 || t == DType.FLOAT64 || t == DType.FLOAT16 || t == DType.BFLOAT16;
        }
    }

    static Tensor arange(CudaDevice d, double start, double step, int n, DType dtype) {
        Tensor t = Tensor.empty(dtype, d.device, n);
        if (n > 0) d.kernels.launch("fx_arange", n, KernelArgs.start().i64(n).i32(Codes.of(dtype)).ptr(t).f64(start).f64(step));
        return t;
    }
}
