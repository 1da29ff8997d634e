package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The device-taking rand/randn/arange: on the CPU they are the host ops (same values, same stream), and the
 * CPU backend leaves device drawing to the host (a GPU backend draws with Philox; see native's CudaRandomTest).
 */
class DeviceRandomTest {
    @Test void randAndRandnOnTheCpuAreTheHostDraws() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64, DType.BFLOAT16}) {
            assertArrayEquals(Tensor.rand(new Generator(4), dt, 3, 5).toDoubleArray(), Tensor.rand(new Generator(4), dt, Device.CPU, 3, 5).toDoubleArray(), dt + " rand");
            assertArrayEquals(Tensor.randn(new Generator(4), dt, 7).toDoubleArray(), Tensor.randn(new Generator(4), dt, Device.CPU, 7).toDoubleArray(), dt + " randn");
        }
        Generator.manualSeed(9);
        double[] a = Tensor.rand(DType.FLOAT32, Device.CPU, 6).toDoubleArray();
        Generator.manualSeed(9);
        assertArrayEquals(Tensor.rand(DType.FLOAT32, 6).toDoubleArray(), a, "global generator");
    }

    @Test void arangeOnTheCpuIsArange() {
        assertArrayEquals(Tensor.arange(-3, 5.5, 0.25).toDoubleArray(), Tensor.arange(-3, 5.5, 0.25, null, Device.CPU).toDoubleArray());
        Tensor i = Tensor.arange(10, -7, -3, null, Device.CPU);
        assertEquals(DType.INT64, i.dtype());
        assertArrayEquals(new long[] {10, 7, 4, 1, -2, -5}, i.toLongArray());
        assertEquals(DType.BFLOAT16, Tensor.arange(0, 4, 1, DType.BFLOAT16, Device.CPU).dtype());
    }

    @Test void errorsNameTheOp() {
        var e = assertThrows(IllegalArgumentException.class, () -> Tensor.rand(new Generator(1), DType.INT32, Device.CPU, 3));
        assertEquals("rand: dtype must be floating point, got " + DType.INT32, e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Tensor.arange(0, 5, 0, null, Device.CPU));
    }

    @Test void theCpuBackendHasNoDeviceGenerator() {
        Backend cpu = Backends.of(Device.CPU);
        assertNull(cpu.random(Backend.Draw.UNIFORM, 1, DType.FLOAT32, new int[] {2}));
        assertNull(cpu.arange(0, 1, 3, DType.INT64));
    }
}
