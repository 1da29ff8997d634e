package dev.fluxion.cuda;

import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

import java.lang.ref.Reference;

import static org.bytedeco.cuda.global.cudart.cuMemcpyDtoDAsync;
import static org.bytedeco.cuda.global.cudart.cuMemsetD16Async;
import static org.bytedeco.cuda.global.cudart.cuMemsetD32Async;
import static org.bytedeco.cuda.global.cudart.cuMemsetD8Async;

/** unary, binary, where, copy/cast and fill on a GPU (kernels in elementwise.cu and copy.cu). */
final class CudaElementwise {
    private CudaElementwise() {}

    // launch modes of elementwise.cu
    static final int STRIDED = 0, CONTIGUOUS = 1, B_SCALAR = 2, A_SCALAR = 3;

    static Tensor unary(CudaDevice d, UnaryOp op, Tensor x) {
        Tensor y = Tensor.empty(x.dtype(), d.device, x.shape());
        long n = x.numel();
        if (n == 0) return y;
        Iter it = Iter.of(x.shape(), x.stride());
        d.kernels.launch("fx_unary_" + Codes.suffix(x.dtype()), n,
                KernelArgs.start().i32(Codes.of(op)).i64(n).ptr(x).ptr(y).iter(it).i32(it.contiguous(0) ? CONTIGUOUS : STRIDED));
        return y;
    }

    /** The launch mode for two operands walked by it. */
    static int mode(Iter it) {
        boolean ca = it.contiguous(0), cb = it.contiguous(1);
        if (ca && cb) return CONTIGUOUS;
        if (ca && it.broadcastScalar(1)) return B_SCALAR;
        if (cb && it.broadcastScalar(0)) return A_SCALAR;
        return STRIDED;
    }

    static Tensor binary(CudaDevice d, BinaryOp op, Tensor a, Tensor b) {
        boolean cmp = op.isComparison();
        Tensor y = Tensor.empty(cmp ? DType.BOOL : a.dtype(), d.device, a.shape());
        long n = a.numel();
        if (n == 0) return y;
        Iter it = Iter.of(a.shape(), a.stride(), b.stride());
        d.kernels.launch((cmp ? "fx_compare_" : "fx_binary_") + Codes.suffix(a.dtype()), n,
                KernelArgs.start().i32(Codes.of(op)).i64(n).ptr(a).ptr(b).ptr(y).iter(it).i32(mode(it)));
        return y;
    }

    // activations of elementwise.cu's fx_act_bwd
    static final int ACT_RELU = 0, ACT_GELU = 1, ACT_GELU_TANH = 2, ACT_SILU = 3;

    /**
     * The kernel of ReluBackwardOp (act ACT_RELU, x = ReLU's output) and ActivationBackwardOp (GELU, GELU_TANH, SILU:
     * grad * act'(x)): one pass, the composed path's bits. Null (the composed path runs) for other dtypes or when
     * grad and x differ in dtype.
     */
    static dev.fluxion.tensor.FusedOp.Result activationBackward(String op, int act, Tensor grad, Tensor x) {
        DType dt = grad.dtype();
        if (x.dtype() != dt || dt != DType.FLOAT32 && dt != DType.FLOAT64 && dt != DType.FLOAT16 && dt != DType.BFLOAT16) return null;
        CudaDevice d = Fused.device(op, grad);
        Tensor dx = Tensor.empty(dt, d.device, grad.shape());
        long n = grad.numel();
        if (n == 0) return new dev.fluxion.tensor.FusedOp.Result(dx);
        Iter it = Iter.of(grad.shape(), grad.stride(), x.stride());
        d.kernels.launch("fx_act_bwd_" + Codes.suffix(dt), n,
                KernelArgs.start().i32(act).i64(n).ptr(grad).ptr(x).ptr(dx).iter(it).i32(it.contiguous(0) && it.contiguous(1) ? 1 : 0));
        return new dev.fluxion.tensor.FusedOp.Result(dx);
    }

    static int activationCode(dev.fluxion.tensor.UnaryOp activation) {
        return switch (activation) {
            case GELU -> ACT_GELU;
            case GELU_TANH -> ACT_GELU_TANH;
            case SILU -> ACT_SILU;
            default -> throw new IllegalArgumentException("activation_backward: no CUDA kernel for " + activation.opName());
        };
    }

    static Tensor where(CudaDevice d, Tensor cond, Tensor a, Tensor b) {
        Tensor y = Tensor.empty(a.dtype(), d.device, a.shape());
        long n = a.numel();
        if (n == 0) return y;
        Iter it = Iter.of(a.shape(), cond.stride(), a.stride(), b.stride());
        d.kernels.launch("fx_where_" + a.dtype().byteSize(), n, KernelArgs.start().i64(n).ptr(cond).ptr(a).ptr(b).ptr(y).iter(it));
        return y;
    }

    static void copy(CudaDevice d, Tensor src, Tensor dst) {
        long n = src.numel();
        if (n == 0) return;
        Iter it = Iter.of(src.shape(), src.stride(), dst.stride());
        boolean contiguous = it.contiguous(0) && it.contiguous(1);
        DType from = src.dtype(), to = dst.dtype();
        if (from == to && contiguous) {
            d.makeCurrent();
            Cuda.check(cuMemcpyDtoDAsync(address(dst), address(src), n * from.byteSize(), d.stream), "cuMemcpyDtoDAsync");
            Reference.reachabilityFence(src);   // the Cleaner must not free either block before the copy is enqueued
            Reference.reachabilityFence(dst);
            return;
        }
        String fast = contiguous ? fastCast(from, to) : null;
        if (fast != null) {
            d.kernels.launch(fast, n, KernelArgs.start().i64(n).ptr(src).ptr(dst));
            return;
        }
        d.kernels.launch("fx_copy", n, KernelArgs.start().i64(n).i32(Codes.of(from)).ptr(src).i32(Codes.of(to)).ptr(dst).iter(it).i32(contiguous ? 1 : 0));
    }

    private static String fastCast(DType from, DType to) {
        if (from == DType.FLOAT32 && (to == DType.FLOAT16 || to == DType.BFLOAT16)) return "fx_cast_f32_" + Codes.suffix(to);
        if (to == DType.FLOAT32 && (from == DType.FLOAT16 || from == DType.BFLOAT16)) return "fx_cast_" + Codes.suffix(from) + "_f32";
        return null;
    }

    static void fill(CudaDevice d, Tensor dst, double value) {
        long n = dst.numel();
        if (n == 0) return;
        Iter it = Iter.of(dst.shape(), dst.stride());
        if (it.contiguous(0) && fillContiguous(d, dst, n, value)) return;
        d.kernels.launch("fx_fill", n, KernelArgs.start().i64(n).i32(Codes.of(dst.dtype())).ptr(dst).iter(it).i32(it.contiguous(0) ? 1 : 0)
                .f64(value).i64((long) value));
    }

    /** Fills a contiguous range with a memset of the value's bit pattern where one exists. */
    private static boolean fillContiguous(CudaDevice d, Tensor dst, long n, double value) {
        DType t = dst.dtype();
        long at = address(dst);
        int r;
        d.makeCurrent();
        switch (t) {
            case FLOAT32 -> r = cuMemsetD32Async(at, Float.floatToRawIntBits((float) value), n, d.stream);
            case INT32 -> r = cuMemsetD32Async(at, (int) (long) value, n, d.stream);
            case INT8, UINT8 -> r = cuMemsetD8Async(at, (byte) (long) value, n, d.stream);
            case BOOL -> r = cuMemsetD8Async(at, (byte) (value != 0 ? 1 : 0), n, d.stream);
            case FLOAT64, INT64 -> {
                long bits = t == DType.FLOAT64 ? Double.doubleToRawLongBits(value) : (long) value;
                d.kernels.launch("fx_fill_u64", n, KernelArgs.start().i64(n).ptr(dst).i64(bits));
                return true;
            }
            default -> {                                          // float16, bfloat16: +0.0 is all zero bits
                if (Double.doubleToRawLongBits(value) != 0) return false;
                r = cuMemsetD16Async(at, (short) 0, n, d.stream);
            }
        }
        Reference.reachabilityFence(dst);   // the Cleaner must not free the block before the memset is enqueued
        Cuda.check(r, "cuMemset on " + d);
        return true;
    }

    /** Device address of t's first element. */
    static long address(Tensor t) {
        return CudaStorage.of(t).address() + (long) t.offset() * t.dtype().byteSize();
    }
}
