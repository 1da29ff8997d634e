package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.CrossEntropyOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The float32 cross-entropy kernel against the op's composed default: loss, state and gradient, with ignored rows and label smoothing. */
class CpuCrossEntropyTest {
    /** What the autograd engine would hand the composed backward. */
    private record Kept(Tensor logits, Tensor targets, Tensor[] state) implements Saved {
        public Tensor input(int i) { return i == 0 ? logits : targets; }
        public Tensor output() { throw new UnsupportedOperationException(); }
        public Tensor state(int k) { return state[k]; }
        public int inputCount() { return 2; }
        public int[] shape(int i) { return input(i).shape(); }
        public DType dtype(int i) { return input(i).dtype(); }
        public Device device(int i) { return Device.CPU; }
        public boolean needsGrad(int i) { return i == 0; }
    }

    @Test
    void matchesTheComposedDefault() {
        Generator g = new Generator(7);
        for (double smoothing : new double[] {0, 0.1})
            for (int[] nc : new int[][] {{32, 4}, {5, 300}, {1, 1}}) {
                int n = nc[0], c = nc[1];
                Tensor logits = Tensor.randn(g, n, c).mul(3);
                long[] ids = Tensor.randint(g, 0, c, n).toLongArray();
                if (n > 2) ids[1] = -100;                                   // an ignored row
                Tensor targets = Tensor.of(ids, n);
                CrossEntropyOp op = new CrossEntropyOp(-100, smoothing);
                FusedOp.Result want = op.compose(new Tensor[] {logits, targets}), got = CpuCrossEntropy.forward(op, logits, targets);
                String what = n + "x" + c + ", smoothing " + smoothing;
                assertEquals(want.output().item(), got.output().item(), 1e-5 * Math.abs(want.output().item()) + 1e-6, "loss " + what);
                assertEquals(0, got.output().dim());
                assertArrayEquals(want.state()[0].toFloatArray(), got.state()[0].toFloatArray(), 1e-5f, "lse " + what);
                assertEquals(want.state()[1].item(), got.state()[1].item(), "count " + what);
                Tensor gy = Tensor.of(new float[] {0.7f}, new int[0]);
                float[] dWant = op.backward(new Kept(logits, targets, want.state()), gy)[0].toFloatArray();
                float[] dGot = CpuCrossEntropy.backward(op, logits, targets, got.state()[0], got.state()[1].item(), 0.7).toFloatArray();
                assertArrayEquals(dWant, dGot, 1e-6f, "dlogits " + what);
            }
    }

    @Test
    void allIgnoredGivesANaNLossAndAZeroGradient() {
        Tensor logits = Tensor.randn(new Generator(1), 3, 4), targets = Tensor.of(new long[] {-1, -1, -1}, 3);
        CrossEntropyOp op = new CrossEntropyOp(-1, 0);
        FusedOp.Result r = CpuCrossEntropy.forward(op, logits, targets);
        assertTrue(Double.isNaN(r.output().item()));
        for (float v : CpuCrossEntropy.backward(op, logits, targets, r.state()[0], 0, 1).toFloatArray()) assertEquals(0f, v);
    }

    @Test
    void aTargetOutOfRangeIsRefusedNamingIt() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> CpuCrossEntropy.forward(new CrossEntropyOp(-100, 0), Tensor.zeros(2, 3), Tensor.of(new long[] {0, 3}, 2)));
        assertTrue(e.getMessage().contains("target 3 of row 1"), e.getMessage());
    }
}
