package dev.fluxion.cuda;

import dev.fluxion.tensor.AttentionOp;
import dev.fluxion.tensor.Autocast;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the fused attention kernels cover and where they decline (the composed path runs): shapes and dtypes only, no GPU needed. */
class CudaAttentionRulesTest {
    private static final AttentionOp PLAIN = new AttentionOp(0.125, true, false, false);

    private static boolean covers(AttentionOp op, DType dt, int t, int s, int d, int e) {
        return CudaAttention.covers(op, Tensor.zeros(dt, 2, 3, t, d), Tensor.zeros(dt, 2, 3, s, d), Tensor.zeros(dt, 2, 3, s, e));
    }

    @Test void coversEveryFloatDtypeAndHeadDimWithoutMaskOrDropout() {
        for (DType dt : new DType[] {DType.FLOAT32, DType.FLOAT64, DType.FLOAT16, DType.BFLOAT16})
            for (int d : CudaAttention.HEAD_DIMS) {
                assertTrue(covers(PLAIN, dt, 5, 9, d, d), dt + " D " + d);
                assertTrue(covers(new AttentionOp(0.1, false, false, false), dt, 9, 5, d, d), dt + " D " + d + " not causal, T > S");
            }
    }

    @Test void declinesWhatTheKernelsDoNotCompute() {
        assertFalse(covers(new AttentionOp(0.1, true, true, false), DType.FLOAT32, 5, 5, 64, 64), "a mask");
        assertFalse(covers(new AttentionOp(0.1, true, false, true), DType.FLOAT32, 5, 5, 64, 64), "dropout");
        assertFalse(covers(PLAIN, DType.FLOAT32, 5, 5, 48, 48), "D 48");
        assertFalse(covers(PLAIN, DType.FLOAT32, 5, 5, 256, 256), "D 256");
        assertFalse(covers(PLAIN, DType.FLOAT32, 5, 5, 64, 32), "E != D");
        assertFalse(covers(PLAIN, DType.FLOAT32, 5, 0, 64, 64), "no keys");
    }

    @Test void underAutocastRunsOnlyWhereTheCompositionWouldGiveTheSameDtype() {
        try (var ac = Autocast.open(DType.BFLOAT16)) {
            assertTrue(covers(PLAIN, DType.BFLOAT16, 5, 5, 64, 64), "bfloat16 inputs");
            assertTrue(covers(PLAIN, DType.FLOAT64, 5, 5, 64, 64), "float64 is never cast");
            assertFalse(covers(PLAIN, DType.FLOAT32, 5, 5, 64, 64), "float32: the composition's GEMMs run in bfloat16");
            assertFalse(covers(PLAIN, DType.FLOAT16, 5, 5, 64, 64), "float16: cast to bfloat16 by the composition");
        }
    }
}
