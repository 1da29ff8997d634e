package dev.fluxion.cuda;

import dev.fluxion.tensor.AdamUpdate;
import dev.fluxion.tensor.AvgPool2dOp;
import dev.fluxion.tensor.Col2ImOp;
import dev.fluxion.tensor.Conv2dOp;
import dev.fluxion.tensor.CrossEntropyOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.FusedKernel;
import dev.fluxion.tensor.FusedKernels;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Im2ColOp;
import dev.fluxion.tensor.LayerNormOp;
import dev.fluxion.tensor.MaxPool2dOp;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;

/**
 * The CUDA kernels of the fused ops, registered in {@link FusedKernels} when the CUDA backend loads: layer
 * norm and softmax + cross-entropy from {@link Fused}, the Adam/AdamW step from {@link FusedAdam}, im2col, col2im
 * and max pooling (values + argmax, and its backward) from {@link CudaWindows}, convolution and average pooling
 * from cuDNN ({@link CudnnConvolution}, {@link CudnnPooling}), dropout from {@link CudaRandom}, linear with its bias
 * in cuBLASLt's epilogue ({@link CublasLt}), and the ReLU and GELU/SiLU backwards as one elementwise kernel each
 * ({@link CudaElementwise#activationBackward}). The forwards save what the kernels' backwards read
 * (mean and rstd; log-sum-exp), in the accumulator dtype; a backward declines (the op's composed rule
 * runs) when the state came from elsewhere or the arguments are outside what its kernel covers.
 */
final class CudaFusedKernels {
    private CudaFusedKernels() {}

    static void register() {
        FusedKernels.register(dev.fluxion.tensor.DropoutOp.class, Device.Kind.CUDA, new CudaRandom.Dropout());   // forward and backward in random.cu
        FusedKernels.register(LayerNormOp.class, Device.Kind.CUDA, new LayerNorm());
        FusedKernels.register(CrossEntropyOp.class, Device.Kind.CUDA, new CrossEntropy());
        FusedKernels.register(AdamUpdate.class, Device.Kind.CUDA, (op, in) ->
                FusedAdam.step(Fused.device("adam_step", in[0]), op) ? new FusedOp.Result(in[0]) : null);
        FusedKernels.register(Im2ColOp.class, Device.Kind.CUDA, (op, in) ->
                windowed(in[0]) ? new FusedOp.Result(CudaWindows.im2col(in[0], geometry(op.window()))) : null);
        FusedKernels.register(Col2ImOp.class, Device.Kind.CUDA, (op, in) ->
                windowed(in[0]) ? new FusedOp.Result(CudaWindows.col2im(in[0], op.n(), op.c(), op.h(), op.w(), geometry(op.window()))) : null);
        FusedKernels.register(MaxPool2dOp.class, Device.Kind.CUDA, new MaxPool());
        FusedKernels.register(dev.fluxion.tensor.LinearOp.class, Device.Kind.CUDA, new CublasLt.LinearKernel());
        FusedKernels.register(dev.fluxion.tensor.ReluBackwardOp.class, Device.Kind.CUDA, (op, in) ->
                CudaElementwise.activationBackward(op.name(), CudaElementwise.ACT_RELU, in[0], in[1]));
        FusedKernels.register(dev.fluxion.tensor.ActivationBackwardOp.class, Device.Kind.CUDA, (op, in) ->
                CudaElementwise.activationBackward(op.name(), CudaElementwise.activationCode(op.activation()), in[0], in[1]));
        FusedKernels.register(Conv2dOp.class, Device.Kind.CUDA, new CudnnConvolution.Kernel());
        FusedKernels.register(AvgPool2dOp.class, Device.Kind.CUDA, new CudnnPooling.Kernel());
        FusedKernels.register(dev.fluxion.tensor.AttentionOp.class, Device.Kind.CUDA, new CudaAttention());   // attention.cu: fused forward and backward
    }

    /** x (N, C, H, W) -> y (N, C, OH, OW), argmax indices (N, C, OH, OW) int64: the state layout of the op's composed default. */
    static final class MaxPool implements FusedKernel<MaxPool2dOp> {
        @Override public FusedOp.Result forward(MaxPool2dOp op, Tensor[] in) {
            if (!windowed(in[0])) return null;
            CudaWindows.Pooled p = CudaWindows.maxPool(in[0], geometry(op.window()));
            return new FusedOp.Result(p.y(), p.indices());
        }

        @Override public Tensor[] backward(MaxPool2dOp op, Saved s, Tensor g) {
            int[] x = s.shape(0);
            Tensor idx = s.state(0);
            if (!windowed(g) || idx.dtype() != DType.INT64) return null;
            return new Tensor[] {CudaWindows.maxPoolBackward(g, idx, x[0], x[1], x[2], x[3], geometry(op.window()))};
        }
    }

    /** The float dtypes window.cu has kernels for (others run the ops' composed defaults). */
    private static boolean windowed(Tensor t) {
        DType d = t.dtype();
        return d == DType.FLOAT32 || d == DType.FLOAT64 || d == DType.FLOAT16 || d == DType.BFLOAT16;
    }

    static CudaWindows.Geometry geometry(Window2d w) {
        return new CudaWindows.Geometry(w.kh(), w.kw(), w.sh(), w.sw(), w.padTop(), w.padBottom(), w.padLeft(), w.padRight(), w.dh(), w.dw());
    }

    /** x (..., C) -> y, mean [rows], rstd [rows]. */
    static final class LayerNorm implements FusedKernel<LayerNormOp> {
        @Override public FusedOp.Result forward(LayerNormOp op, Tensor[] in) {
            Fused.Norm n = Fused.layerNorm(in[0], in[1], in[2], op.eps());
            return new FusedOp.Result(n.y(), n.mean(), n.rstd());
        }

        @Override public Tensor[] backward(LayerNormOp op, Saved s, Tensor g) {
            if (!s.needsGrad(0)) return null;                           // the composed rule needs no weight for dweight, dbias
            Tensor x = s.input(0), mean = s.state(0), rstd = s.state(1);
            int rows = Shape.dimSize("layerNorm backward", x.numel() / x.size(-1));   // mean and rstd are [rows]
            DType acc = Codes.accumulator(x.dtype());
            if (mean.dtype() != acc || rstd.dtype() != acc || g.dtype() != x.dtype()) return null;
            Fused.NormGrads d = Fused.layerNormBackward(g, x, s.input(1), mean.reshape(rows), rstd.reshape(rows), s.needsGrad(2));
            return new Tensor[] {d.dx(), d.dweight(), d.dbias()};
        }
    }

    /** logits (N, C), targets (N) -> mean loss, lse [N], count; no label smoothing (the composed default has it). */
    static final class CrossEntropy implements FusedKernel<CrossEntropyOp> {
        @Override public FusedOp.Result forward(CrossEntropyOp op, Tensor[] in) {
            if (op.labelSmoothing() != 0) return null;
            Tensor logits = in[0], targets = in[1];
            DType acc = Codes.accumulator(logits.dtype());
            Fused.CrossEntropy ce = Fused.crossEntropy(logits, targets, op.ignoreIndex());
            Tensor count = targets.ne((double) op.ignoreIndex()).to(acc).sum();
            Tensor loss = ce.loss().sum().div(count);
            return new FusedOp.Result(loss.dtype() == logits.dtype() ? loss : loss.to(logits.dtype()), ce.lse(), count);
        }

        @Override public Tensor[] backward(CrossEntropyOp op, Saved s, Tensor g) {
            if (op.labelSmoothing() != 0 || !s.needsGrad(0)) return null;
            Tensor logits = s.input(0), lse = s.state(0), count = s.state(1);
            DType acc = Codes.accumulator(logits.dtype());
            if (lse.dtype() != acc || count.dtype() != acc) return null;
            Tensor dloss = g.to(acc).div(count);                          // 0-dim: every counted row gets g / count
            return new Tensor[] {Fused.crossEntropyBackward(logits, s.input(1), lse, dloss, op.ignoreIndex()), null};
        }
    }
}
