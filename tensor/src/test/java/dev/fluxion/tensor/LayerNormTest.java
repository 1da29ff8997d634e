package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The fused float32 layerNorm kernels against the composed float64 path, on a strided input; argument errors. */
class LayerNormTest {
    @Test
    void fusedFloat32MatchesComposedFloat64() {
        var g = new Generator(4);
        Tensor x = Tensor.randn(g, DType.FLOAT64, 37, 5, 6).mul(3).add(1).transpose(0, 2);   // (6, 5, 37), strided
        Tensor w = Tensor.randn(g, DType.FLOAT64, 37), b = Tensor.randn(g, DType.FLOAT64, 37), gy = Tensor.randn(g, DType.FLOAT64, 6, 5, 37);
        Backend cpu = Backends.of(Device.CPU);
        Tensor y64 = cpu.layerNorm(x, w, b, 1e-5);                           // float64: the composed default
        Tensor y32 = cpu.layerNorm(x.to(DType.FLOAT32), w.to(DType.FLOAT32), b.to(DType.FLOAT32), 1e-5);
        assertArrayEquals(y64.toDoubleArray(), y32.to(DType.FLOAT64).toDoubleArray(), 2e-5);
        Tensor[] g64 = cpu.layerNormBackward(x, w, gy, 1e-5);
        Tensor[] g32 = cpu.layerNormBackward(x.to(DType.FLOAT32), w.to(DType.FLOAT32), gy.to(DType.FLOAT32), 1e-5);
        for (int i = 0; i < 3; i++) {
            double[] e = g64[i].toDoubleArray(), a = g32[i].to(DType.FLOAT64).toDoubleArray();
            double scale = 0;
            for (double v : e) scale = Math.max(scale, Math.abs(v));
            assertArrayEquals(e, a, 1e-5 * scale, "gradient " + i);
        }
    }

    @Test
    void refusesMismatchedWeight() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.ones(2, 4).layerNorm(Tensor.ones(3), Tensor.ones(4), 1e-5));
        assertTrue(e.getMessage().contains("layerNorm: input [2, 4] needs weight and bias of shape [4], got [3] and [4]"), e.getMessage());
    }
}
