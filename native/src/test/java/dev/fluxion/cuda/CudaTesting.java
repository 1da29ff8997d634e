package dev.fluxion.cuda;

import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;

import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/** Shared by the gpu-tagged tests: the device (or a skip with the reason), inputs, and comparison with the CPU. */
final class CudaTesting {
    private CudaTesting() {}

    static final List<DType> FLOATS = List.of(DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16);
    static final List<DType> INTS = List.of(DType.INT64, DType.INT32, DType.INT8, DType.UINT8);

    /** The first CUDA device; skips the test (with the provider's reason) where there is none. */
    static Device gpu() {
        List<Device> cuda = Backends.devices().stream().filter(d -> d.kind() == Device.Kind.CUDA).toList();
        Assumptions.assumeTrue(!cuda.isEmpty(), () -> "no CUDA device: " + String.join("; ", Backends.unavailableReasons()));
        return cuda.get(0);
    }

    static CudaBackend backend(Device d) { return CudaBackend.of(d); }

    /** Random CPU input of dtype: normal floats, small integers (non-negative for uint8), bools. */
    static Tensor input(Generator g, DType dt, int... shape) {
        return switch (dt) {
            case FLOAT32, FLOAT64, FLOAT16, BFLOAT16 -> Tensor.randn(g, DType.FLOAT64, shape).to(dt);
            case UINT8 -> Tensor.randint(g, 0, 100, shape).to(dt);
            case BOOL -> Tensor.randint(g, 0, 2, shape).to(dt);
            default -> Tensor.randint(g, -50, 50, shape).to(dt);
        };
    }

    /** Relative tolerance for elementwise results of dtype (a couple of units in the last place). */
    static double rtol(DType dt) {
        return switch (dt) {
            case FLOAT64 -> 1e-12;
            case FLOAT32 -> 1e-5;
            case FLOAT16 -> 2e-3;
            case BFLOAT16 -> 1.6e-2;
            default -> 0;
        };
    }

    static void assertClose(Tensor expected, Tensor actual, String what) {
        assertClose(expected, actual, rtol(expected.dtype()), rtol(expected.dtype()), what);
    }

    /** Same shape and dtype; |a - e| <= atol + rtol |e| elementwise (NaN matches NaN, infinities match exactly). */
    static void assertClose(Tensor expected, Tensor actual, double rtol, double atol, String what) {
        assertEquals(expected.dtype(), actual.dtype(), what + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        Tensor a = actual.to(Device.CPU);
        if (!expected.dtype().isFloatingPoint()) {
            assertArrayEquals(expected.toLongArray(), a.toLongArray(), what);
            return;
        }
        double[] e = expected.toDoubleArray(), g = a.toDoubleArray();
        for (int i = 0; i < e.length; i++) {
            boolean ok = Double.isNaN(e[i]) ? Double.isNaN(g[i])
                    : Double.isInfinite(e[i]) ? e[i] == g[i]
                    : Math.abs(g[i] - e[i]) <= atol + rtol * Math.abs(e[i]);
            if (!ok) fail(what + ": element " + i + " of " + Arrays.toString(expected.shape()) + " is " + g[i] + ", expected " + e[i]
                    + " (rtol " + rtol + ", atol " + atol + ")");
        }
    }
}
