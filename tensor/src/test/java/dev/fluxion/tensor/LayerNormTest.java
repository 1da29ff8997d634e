package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The CPU's fused float32 layer norm kernel (registered for {@link LayerNormOp}) against the composed
 * float64 default, on a strided input: output, the saved mean and rstd, and the backward that reads them.
 */
class LayerNormTest {
    /** Everything saved, every input needing a gradient. */
    record AllSaved(Tensor[] inputs, Tensor output, Tensor[] states) implements Saved {
        public Tensor input(int i) { return inputs[i]; }
        public Tensor state(int k) { return states[k]; }
        public int inputCount() { return inputs.length; }
        public int[] shape(int i) { return inputs[i].shape(); }
        public DType dtype(int i) { return inputs[i].dtype(); }
        public Device device(int i) { return inputs[i].device(); }
        public boolean needsGrad(int i) { return inputs[i].dtype().isFloatingPoint(); }
    }

    static Tensor[] backward(FusedOp op, Tensor[] in, FusedOp.Result r, Tensor g) {
        return FusedKernels.backward(op, new AllSaved(in, r.output(), r.state()), g);
    }

    @Test
    void fusedFloat32MatchesComposedFloat64() {
        var g = new Generator(4);
        Tensor x = Tensor.randn(g, DType.FLOAT64, 37, 5, 6).mul(3).add(1).transpose(0, 2);   // (6, 5, 37), strided
        Tensor w = Tensor.randn(g, DType.FLOAT64, 37), b = Tensor.randn(g, DType.FLOAT64, 37), gy = Tensor.randn(g, DType.FLOAT64, 6, 5, 37);
        var op = new LayerNormOp(1e-5);
        assertNotNull(FusedKernels.kernel(op, Device.CPU), "the CPU backend registers its layer norm kernel");
        Tensor[] in64 = {x, w, b}, in32 = {x.to(DType.FLOAT32), w.to(DType.FLOAT32), b.to(DType.FLOAT32)};
        FusedOp.Result r64 = FusedKernels.forward(op, in64);                     // float64: the composed default
        FusedOp.Result r32 = FusedKernels.forward(op, in32);                     // float32: the kernel
        assertArrayEquals(new int[] {6 * 5}, r32.state()[0].shape(), "the kernel's mean is [rows]");
        assertArrayEquals(new int[] {6, 5, 1}, r64.state()[0].shape(), "the composed mean is (..., 1)");
        assertArrayEquals(r64.output().toDoubleArray(), r32.output().to(DType.FLOAT64).toDoubleArray(), 2e-5);
        for (int k = 0; k < 2; k++)
            assertArrayEquals(r64.state()[k].toDoubleArray(), r32.state()[k].to(DType.FLOAT64).toDoubleArray(), 1e-5, "state " + k);
        Tensor[] g64 = backward(op, in64, r64, gy);
        Tensor[] g32 = backward(op, in32, r32, gy.to(DType.FLOAT32));
        for (int i = 0; i < 3; i++) {
            double[] e = g64[i].toDoubleArray(), a = g32[i].to(DType.FLOAT64).toDoubleArray();
            double scale = 0;
            for (double v : e) scale = Math.max(scale, Math.abs(v));
            assertArrayEquals(e, a, 1e-5 * scale, "gradient " + i);
        }
        Tensor[] composed32 = op.backward(new AllSaved(in32, r32.output(), r32.state()), gy.to(DType.FLOAT32));   // the rule reads the kernel's state
        assertArrayEquals(g32[0].toDoubleArray(), composed32[0].toDoubleArray(), 1e-4);
        assertEquals(DType.FLOAT32, composed32[0].dtype());
    }

    @Test
    void refusesMismatchedWeight() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.ones(2, 4).layerNorm(Tensor.ones(3), Tensor.ones(4), 1e-5));
        assertTrue(e.getMessage().contains("layerNorm: input [2, 4] needs weight and bias of shape [4], got [3] and [4]"), e.getMessage());
    }
}
