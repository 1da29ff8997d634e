package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.fluxion.cuda.CudaTesting.FLOATS;
import static dev.fluxion.cuda.CudaTesting.assertClose;
import static dev.fluxion.cuda.CudaTesting.input;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** The fused kernels against float64 compositions of primitive ops on the CPU. */
@Tag("gpu")
class CudaFusedTest {
    static Device gpu;

    @BeforeEach void device() { gpu = CudaTesting.gpu(); }

    private static final DType F64 = DType.FLOAT64;

    private static double tol(DType dt) { return Math.max(4 * CudaTesting.rtol(dt), 2e-5); }

    @Test void layerNormForwardAndBackward() {
        Generator g = new Generator(41);
        for (DType dt : FLOATS)
            for (int cols : new int[] {7, 768, 3000}) {
                Tensor x = input(g, dt, 5, 3, cols).mul(2).add(1), w = input(g, dt, cols), b = input(g, dt, cols), dy = input(g, dt, 5, 3, cols);
                double eps = 1e-5;
                Tensor x64 = x.to(F64), w64 = w.to(F64), dy64 = dy.to(F64);
                Tensor mean = x64.mean(-1, true), rstd = x64.var(new int[] {2}, true, 0).add(eps).rsqrt();
                Tensor xhat = x64.sub(mean).mul(rstd);
                Tensor y = xhat.mul(w64).add(b.to(F64));
                Fused.Norm out = Fused.layerNorm(x.to(gpu), w.to(gpu), b.to(gpu), eps);
                String what = "layerNorm " + dt + " C=" + cols;
                assertClose(y.to(dt), out.y(), tol(dt), tol(dt), what + " y");
                DType acc = Codes.accumulator(dt);
                assertClose(mean.reshape(15).to(acc), out.mean(), 1e-5, 1e-5, what + " mean");
                assertClose(rstd.reshape(15).to(acc), out.rstd(), 1e-4, 1e-4, what + " rstd");

                Tensor gw = dy64.mul(w64);
                Tensor dx = rstd.mul(gw.sub(gw.mean(-1, true)).sub(xhat.mul(gw.mul(xhat).mean(-1, true))));
                Fused.NormGrads grads = Fused.layerNormBackward(dy.to(gpu), x.to(gpu), w.to(gpu), out.mean(), out.rstd(), true);
                assertClose(dx.to(dt), grads.dx(), tol(dt) * 4, tol(dt) * 4, what + " dx");
                assertClose(dy64.mul(xhat).sum(new int[] {0, 1}, false).to(dt), grads.dweight(), tol(dt) * 4, tol(dt) * 8, what + " dweight");
                assertClose(dy64.sum(new int[] {0, 1}, false).to(dt), grads.dbias(), tol(dt) * 4, tol(dt) * 8, what + " dbias");
            }
        Tensor x = input(g, DType.FLOAT32, 4, 9);
        Tensor ref = x.sub(x.mean(-1, true)).mul(x.var(new int[] {1}, true, 0).add(1e-6).rsqrt());
        assertClose(ref, Fused.layerNorm(x.to(gpu), null, null, 1e-6).y(), 1e-5, 1e-5, "layerNorm without affine");
    }

    @Test void rmsNormForwardAndBackward() {
        Generator g = new Generator(42);
        for (DType dt : FLOATS) {
            int cols = 1024;
            Tensor x = input(g, dt, 6, cols), w = input(g, dt, cols), dy = input(g, dt, 6, cols);
            Tensor x64 = x.to(F64), w64 = w.to(F64), dy64 = dy.to(F64);
            Tensor rstd = x64.mul(x64).mean(-1, true).add(1e-6).rsqrt(), xhat = x64.mul(rstd);
            Fused.Norm out = Fused.rmsNorm(x.to(gpu), w.to(gpu), 1e-6);
            assertClose(xhat.mul(w64).to(dt), out.y(), tol(dt), tol(dt), "rmsNorm y " + dt);
            Tensor gw = dy64.mul(w64);
            Tensor dx = rstd.mul(gw.sub(xhat.mul(gw.mul(xhat).mean(-1, true))));
            Fused.NormGrads grads = Fused.rmsNormBackward(dy.to(gpu), x.to(gpu), w.to(gpu), out.rstd());
            assertClose(dx.to(dt), grads.dx(), tol(dt) * 4, tol(dt) * 4, "rmsNorm dx " + dt);
            assertClose(dy64.mul(xhat).sum(0, false).to(dt), grads.dweight(), tol(dt) * 4, tol(dt) * 8, "rmsNorm dweight " + dt);
        }
    }

    @Test void softmaxBackward() {
        Generator g = new Generator(43);
        for (DType dt : FLOATS) {
            Tensor x = input(g, dt, 7, 300), dy = input(g, dt, 7, 300);
            Tensor y = x.to(F64).softmax(-1), d64 = dy.to(F64);
            Tensor ref = y.mul(d64.sub(d64.mul(y).sum(-1, true)));
            assertClose(ref.to(dt), Fused.softmaxBackward(y.to(dt).to(gpu), dy.to(gpu), false), tol(dt), tol(dt), "softmax backward " + dt);
            Tensor ly = x.to(F64).logSoftmax(-1);
            Tensor lref = d64.sub(ly.exp().mul(d64.sum(-1, true)));
            assertClose(lref.to(dt), Fused.softmaxBackward(ly.to(dt).to(gpu), dy.to(gpu), true), tol(dt) * 4, tol(dt) * 4, "logSoftmax backward " + dt);
        }
    }

    @Test void crossEntropyForwardAndBackward() {
        Generator g = new Generator(44);
        long ignore = -100;
        for (DType dt : FLOATS)
            for (int classes : new int[] {10, 50257}) {
                int n = 9;
                Tensor logits = input(g, dt, n, classes).mul(3);
                long[] t = Tensor.randint(g, 0, classes, n).toLongArray();
                t[4] = ignore;
                Tensor targets = Tensor.of(t, n);
                Tensor safe = Tensor.where(targets.eq(ignore), Tensor.zeros(DType.INT64, n), targets);
                Tensor keep = targets.ne(ignore).to(F64);
                Tensor logp = logits.to(F64).logSoftmax(-1);
                Tensor loss = logp.gather(1, safe.reshape(n, 1)).reshape(n).neg().mul(keep);
                DType acc = Codes.accumulator(dt);
                Fused.CrossEntropy ce = Fused.crossEntropy(logits.to(gpu), targets.to(gpu), ignore);
                String what = "crossEntropy " + dt + " C=" + classes;
                assertClose(loss.to(acc), ce.loss(), 1e-5, 1e-4, what + " loss");
                assertClose(logits.to(F64).logsumexp(1, false).to(acc), ce.lse(), 1e-5, 1e-4, what + " lse");

                Tensor dloss = input(g, F64, n);
                Tensor onehot = safe.oneHot(classes).to(F64);
                Tensor ref = logp.exp().sub(onehot).mul(dloss.mul(keep).reshape(n, 1));
                Tensor dl = Fused.crossEntropyBackward(logits.to(gpu), targets.to(gpu), ce.lse(), dloss.to(acc).to(gpu), ignore);
                assertClose(ref.to(dt), dl, tol(dt), tol(dt), what + " dlogits");
                Tensor mean = Tensor.scalar(1.0 / 8, acc).to(gpu);                     // a 0-dim dloss: the mean's gradient
                Tensor refMean = logp.exp().sub(onehot).mul(keep.reshape(n, 1)).div(8);
                assertClose(refMean.to(dt), Fused.crossEntropyBackward(logits.to(gpu), targets.to(gpu), ce.lse(), mean, ignore), tol(dt), tol(dt),
                        what + " dlogits of the mean");
            }
    }

    @Test void embeddingBackward() {
        Generator g = new Generator(45);
        for (DType dt : FLOATS) {
            int vocab = 40, dim = 16;
            Tensor ids = Tensor.randint(g, 0, vocab, 6, 50);
            long[] flat = ids.toLongArray();
            flat[3] = 0;                                                   // padding id 0 contributes nothing
            ids = Tensor.of(flat, 6, 50);
            Tensor dout = input(g, dt, 6, 50, dim);
            Tensor rows = ids.reshape(300), keep = rows.ne(0).to(F64).reshape(300, 1);
            Tensor ref = Tensor.zeros(F64, vocab, dim).scatterAdd(0, rows.reshape(300, 1).expand(300, dim).contiguous(),
                    dout.to(F64).reshape(300, dim).mul(keep));
            Tensor dw = Fused.embeddingBackward(ids.to(gpu), dout.to(gpu), vocab, 0);
            assertClose(ref.to(dt), dw, tol(dt) * 2, tol(dt) * 4, "embedding backward " + dt);
        }
    }

    /** ReLU's threshold_backward and the GELU/SiLU backwards on the GPU: one fx_act_bwd launch each, the composed path's bits. */
    @Test void activationBackwardsAreOneKernelWithTheComposedBits() {
        CudaDevice d = CudaBackend.of(gpu).cudaDevice();
        Generator g = new Generator(48);
        for (DType dt : FLOATS)
            for (boolean transposed : new boolean[] {false, true}) {
                Tensor grad = input(g, dt, 33, 70).to(gpu), x = input(g, dt, 70, 33).to(gpu);
                x = transposed ? x.transpose(0, 1) : x.transpose(0, 1).contiguous();
                java.util.List<dev.fluxion.tensor.FusedOp> ops = new java.util.ArrayList<>(java.util.List.of(new dev.fluxion.tensor.ReluBackwardOp()));
                for (dev.fluxion.tensor.UnaryOp act : new dev.fluxion.tensor.UnaryOp[] {dev.fluxion.tensor.UnaryOp.GELU,
                        dev.fluxion.tensor.UnaryOp.GELU_TANH, dev.fluxion.tensor.UnaryOp.SILU})
                    ops.add(new dev.fluxion.tensor.ActivationBackwardOp(act));
                for (dev.fluxion.tensor.FusedOp op : ops) {
                    String what = op.name() + " " + dt + (transposed ? " transposed x" : "");
                    long launches = d.kernels.launches("fx_act_bwd");
                    Tensor fused = dev.fluxion.tensor.FusedKernels.forward(op, new Tensor[] {grad, x}).output();
                    assertEquals(1, d.kernels.launches("fx_act_bwd") - launches, what + ": one fused launch");
                    assertArrayEquals(op.compose(new Tensor[] {grad, x}).output().toDoubleArray(), fused.toDoubleArray(), what + ": the composed bits");
                }
            }
    }

    /** nn's linear with a bias on the GPU: one cuBLASLt call with the bias in its epilogue, the gradients from the op's rule. */
    @Test void linearOpRunsCublasLtWithTheBiasInTheEpilogue() {
        Generator g = new Generator(47);
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16}) {
            Tensor x = input(g, dt, 3, 20, 96), w = input(g, dt, 48, 96), b = input(g, dt, 48), gy = input(g, dt, 3, 20, 48);
            Tensor ref = x.to(F64).matmul(w.to(F64).t()).add(b.to(F64));
            double t = dt == DType.FLOAT32 ? 1e-4 : dt == DType.FLOAT16 ? 2e-2 : 1.5e-1;
            Tensor xg = x.to(gpu).requiresGrad(true), wg = w.to(gpu).requiresGrad(true), bg = b.to(gpu).requiresGrad(true);
            long calls = CublasLt.LINEAR_CALLS.sum();
            Tensor y = dev.fluxion.nn.Functional.linear(xg, wg, bg);
            assertEquals(1, CublasLt.LINEAR_CALLS.sum() - calls, dt + ": one cuBLASLt linear call");
            assertArrayEquals(new int[] {3, 20, 48}, y.shape());
            assertClose(ref.to(dt), y, t, t, "linear op " + dt);
            y.backward(gy.to(gpu));
            Tensor g2 = gy.to(F64).reshape(60, 48);
            assertClose(gy.to(F64).matmul(w.to(F64)).to(dt), xg.grad(), t, t, "dx " + dt);
            assertClose(g2.t().matmul(x.to(F64).reshape(60, 96)).to(dt), wg.grad(), t, t * 4, "dweight " + dt);
            assertClose(g2.sum(0, false).to(dt), bg.grad(), t, t * 4, "dbias " + dt);
            dev.fluxion.autodiff.Autodiff.tape().clear();
        }
    }

    @Test void cublasLtLinearWithEpilogues() {
        Generator g = new Generator(46);
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT16, DType.BFLOAT16}) {
            Tensor x = input(g, dt, 64, 96), w = input(g, dt, 48, 96), b = input(g, dt, 48);
            Tensor lin = x.to(F64).matmul(w.to(F64).t());
            double t = dt == DType.FLOAT32 ? 1e-4 : dt == DType.FLOAT16 ? 2e-2 : 1.5e-1;
            for (CublasLt.Epilogue e : CublasLt.Epilogue.values())
                for (boolean withBias : new boolean[] {false, true}) {
                    Tensor z = withBias ? lin.add(b.to(F64)) : lin;
                    Tensor ref = switch (e) {
                        case NONE -> z;
                        case RELU -> z.relu();
                        case GELU -> z.geluTanh();
                    };
                    assertClose(ref.to(dt), CublasLt.linear(x.to(gpu), w.to(gpu), withBias ? b.to(gpu) : null, e), t, t, "linear " + e + " bias " + withBias + " " + dt);
                }
        }
    }
}
