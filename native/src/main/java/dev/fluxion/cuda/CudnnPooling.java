package dev.fluxion.cuda;

import dev.fluxion.tensor.Autograd;
import dev.fluxion.tensor.AvgPool2dOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;
import org.bytedeco.cuda.cudnn.cudnnPoolingStruct;
import org.bytedeco.cuda.cudnn.cudnnTensorStruct;

import java.lang.ref.Reference;
import java.util.concurrent.atomic.AtomicLong;

import static org.bytedeco.cuda.global.cudnn.CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING;
import static org.bytedeco.cuda.global.cudnn.CUDNN_PROPAGATE_NAN;
import static org.bytedeco.cuda.global.cudnn.cudnnCreatePoolingDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyPoolingDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnDestroyTensorDescriptor;
import static org.bytedeco.cuda.global.cudnn.cudnnGetPooling2dForwardOutputDim;
import static org.bytedeco.cuda.global.cudnn.cudnnPoolingBackward;
import static org.bytedeco.cuda.global.cudnn.cudnnPoolingForward;
import static org.bytedeco.cuda.global.cudnn.cudnnSetPooling2dDescriptor;

/**
 * The cuDNN kernel of {@link AvgPool2dOp}: CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING (every window divided by
 * kh * kw, PyTorch's count_include_pad=True), cudnnPoolingForward and cudnnPoolingBackward on packed NCHW tensors.
 * Declines (the composed im2col + mean runs) where cuDNN's 2-D pooling descriptor cannot say the window: dilation
 * other than 1, asymmetric padding, padding over half the window (PyTorch's own limit; cuDNN's behaviour there is
 * not relied on); also dtypes other than float32/64/16/bf16, empty tensors, more than 2^31 - 1 elements, cuDNN not
 * available, and the backward of a create-graph pass.
 *
 * <p>Max pooling stays on window.cu (CudaWindows): its backward reads the int64 argmax the forward saved, as
 * PyTorch's own CUDA max_pool2d does (a native kernel with indices, not cuDNN); cuDNN's max-pooling backward
 * returns no indices and needs x, y and dy instead.
 */
final class CudnnPooling {
    private CudnnPooling() {}

    private static final AtomicLong DECLINED = new AtomicLong();

    /** How often the cuDNN average pooling declined so far (any device): for the gpu tests. */
    static long declined() { return DECLINED.get(); }

    private static <T> T decline() {
        DECLINED.incrementAndGet();
        return null;
    }

    record Key(int n, int c, int h, int w, DType dtype, Window2d window) {
        String shapes() { return "avg_pool2d x [" + n + ", " + c + ", " + h + ", " + w + "] " + dtype + ", " + window; }
    }

    /** Whether cuDNN's pooling can run this window on this dtype. */
    static boolean supported(Window2d win, DType dt, long inNumel, long outNumel) {
        return Cudnn.dataType(dt) >= 0 && win.dh() == 1 && win.dw() == 1 && win.padTop() == win.padBottom() && win.padLeft() == win.padRight()
                && 2 * win.padTop() <= win.kh() && 2 * win.padLeft() <= win.kw()
                && inNumel > 0 && outNumel > 0 && inNumel <= Integer.MAX_VALUE && outNumel <= Integer.MAX_VALUE;
    }

    /** The pooling descriptor and the x (N, C, H, W) and y (N, C, OH, OW) descriptors of one shape. */
    static final class Plan implements AutoCloseable {
        final String shapes;
        cudnnPoolingStruct pool;
        cudnnTensorStruct x, y;

        Plan(Key k) {
            shapes = k.shapes();
            Window2d win = k.window();
            int oh = win.outH(k.h()), ow = win.outW(k.w());
            try {
                x = Cudnn.tensor(k.dtype(), k.n(), k.c(), k.h(), k.w(), shapes);
                y = Cudnn.tensor(k.dtype(), k.n(), k.c(), oh, ow, shapes);
                pool = new cudnnPoolingStruct();
                Cudnn.check(cudnnCreatePoolingDescriptor(pool), "cudnnCreatePoolingDescriptor", shapes);
                Cudnn.check(cudnnSetPooling2dDescriptor(pool, CUDNN_POOLING_AVERAGE_COUNT_INCLUDE_PADDING, CUDNN_PROPAGATE_NAN, win.kh(), win.kw(),
                        win.padTop(), win.padLeft(), win.sh(), win.sw()), "cudnnSetPooling2dDescriptor", shapes);
                int[] n = new int[1], c = new int[1], h = new int[1], w = new int[1];
                Cudnn.check(cudnnGetPooling2dForwardOutputDim(pool, x, n, c, h, w), "cudnnGetPooling2dForwardOutputDim", shapes);
                if (n[0] != k.n() || c[0] != k.c() || h[0] != oh || w[0] != ow)
                    throw new IllegalStateException("cuDNN: " + shapes + " gives output [" + n[0] + ", " + c[0] + ", " + h[0] + ", " + w[0]
                            + "], the op expects [" + k.n() + ", " + k.c() + ", " + oh + ", " + ow + "]");
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override public void close() {
            if (x != null) cudnnDestroyTensorDescriptor(x);
            if (y != null) cudnnDestroyTensorDescriptor(y);
            if (pool != null) cudnnDestroyPoolingDescriptor(pool);
            x = y = null;
            pool = null;
        }
    }

    /** Registered in {@link CudaFusedKernels} for AvgPool2dOp on CUDA devices. */
    static final class Kernel implements FusedKernel<AvgPool2dOp> {
        @Override public FusedOp.Result forward(AvgPool2dOp op, Tensor[] in) {
            Tensor x = in[0];
            Window2d win = op.window();
            int n = x.size(0), c = x.size(1), oh = win.outH(x.size(2)), ow = win.outW(x.size(3));
            if (!supported(win, x.dtype(), x.numel(), (long) n * c * oh * ow)) return decline();
            CudaDevice d = Fused.device("avgPool2d", x);
            Cudnn dnn = Cudnn.of(d);
            if (dnn == null) return decline();
            DType dt = x.dtype();
            Key key = new Key(n, c, x.size(2), x.size(3), dt, win);
            Tensor xc = Cudnn.packed(d, x), y = Tensor.empty(dt, d.device, n, c, oh, ow);
            synchronized (dnn) {
                Plan p = dnn.plan(key, () -> new Plan(key));
                if (p == null) {
                    y.close();
                    Fused.release(xc, x);
                    return decline();
                }
                d.makeCurrent();
                int status = cudnnPoolingForward(dnn.handle, p.pool, dnn.one(dt), p.x, at(xc), dnn.zero(dt), p.y, at(y));
                Reference.reachabilityFence(xc);
                if (Cudnn.notSupported(status)) {
                    y.close();
                    Fused.release(xc, x);
                    return decline();
                }
                Cudnn.check(status, "cudnnPoolingForward", p.shapes);
                dnn.count("cudnnPoolingForward");
            }
            Fused.release(xc, x);
            return new FusedOp.Result(y);
        }

        /**
         * dx from dy alone: an average's gradient does not depend on x or y, which cudnnPoolingBackward still takes.
         * The op keeps neither (nothing beyond shapes, as its composed rule needs), so dy stands in for y (same
         * shape, only read) and an uninitialised x-sized block of the pool for x (as TensorFlow passes scratch
         * tensors for its average-pooling gradient); the gpu tests compare the result with the CPU's.
         */
        @Override public Tensor[] backward(AvgPool2dOp op, Saved s, Tensor g) {
            if (Autograd.isRecording()) return decline();
            int[] xs = s.shape(0);
            Window2d win = op.window();
            DType dt = g.dtype();
            if (s.dtype(0) != dt || !supported(win, dt, Shape.numel(xs), g.numel())) return decline();
            CudaDevice d = Fused.device("avgPool2d backward", g);
            Cudnn dnn = Cudnn.of(d);
            if (dnn == null) return decline();
            Key key = new Key(xs[0], xs[1], xs[2], xs[3], dt, win);
            Tensor gc = Cudnn.packed(d, g), dx = Tensor.empty(dt, d.device, xs), scratch = Tensor.empty(dt, d.device, xs);
            synchronized (dnn) {
                Plan p = dnn.plan(key, () -> new Plan(key));
                if (p == null) {
                    dx.close();
                    scratch.close();
                    Fused.release(gc, g);
                    return decline();
                }
                d.makeCurrent();
                int status = cudnnPoolingBackward(dnn.handle, p.pool, dnn.one(dt), p.y, at(gc), p.y, at(gc), p.x, at(scratch), dnn.zero(dt), p.x, at(dx));
                Reference.reachabilityFence(gc);
                if (Cudnn.notSupported(status)) {
                    dx.close();
                    scratch.close();
                    Fused.release(gc, g);
                    return decline();
                }
                Cudnn.check(status, "cudnnPoolingBackward", p.shapes);
                dnn.count("cudnnPoolingBackward");
            }
            scratch.close();                                   // stream-ordered: after the backward
            Fused.release(gc, g);
            return new Tensor[] {dx};
        }
    }

    private static org.bytedeco.javacpp.Pointer at(Tensor t) { return Cuda.at(CudaElementwise.address(t)); }
}
