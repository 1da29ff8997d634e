package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Window2d;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the cuDNN kernels decide without a GPU (runs everywhere): which convolutions and poolings they decline to
 * the composed path and why, cuDNN's dtype codes and NOT_SUPPORTED family, the plan cache's LRU bound with the
 * evicted plans' descriptors destroyed, and the switch that turns cuDNN off. The cuDNN calls themselves are
 * CudnnTest's (gpu).
 */
class CudnnRulesTest {
    private static final Window2d SYMMETRIC = Window2d.of(3, 3, 1, 1, 1, 1, 1, 1);

    @Test void convolutionDeclinesWhatTheLegacyDescriptorCannotSay() {
        assertNull(CudnnConvolution.unsupported(SYMMETRIC, DType.FLOAT32, 100, 100));
        assertNull(CudnnConvolution.unsupported(Window2d.of(3, 3, 2, 2, 2, 2, 2, 2), DType.BFLOAT16, 100, 100), "stride and dilation are fine");
        for (DType dt : new DType[] {DType.FLOAT64, DType.FLOAT16}) assertNull(CudnnConvolution.unsupported(SYMMETRIC, dt, 1, 1), dt.toString());
        assertTrue(CudnnConvolution.unsupported(new Window2d(2, 2, 1, 1, 0, 1, 0, 1, 1, 1), DType.FLOAT32, 100, 100).startsWith("asymmetric padding (0, 1, 0, 1)"));
        assertTrue(CudnnConvolution.unsupported(SYMMETRIC, DType.INT32, 100, 100).contains("int32"));
        assertEquals("an empty tensor", CudnnConvolution.unsupported(SYMMETRIC, DType.FLOAT32, 0, 100));
        assertEquals("more than 2^31 - 1 elements", CudnnConvolution.unsupported(SYMMETRIC, DType.FLOAT32, 1L << 31, 100));
    }

    @Test void averagePoolingDeclinesDilationAsymmetricOrOversizedPadding() {
        assertTrue(CudnnPooling.supported(Window2d.of(2, 2, 2, 2, 0, 0, 1, 1), DType.FLOAT16, 64, 16));
        assertTrue(CudnnPooling.supported(Window2d.of(3, 3, 2, 2, 1, 1, 1, 1), DType.BFLOAT16, 64, 16));
        assertFalse(CudnnPooling.supported(Window2d.of(2, 2, 1, 1, 0, 0, 2, 2), DType.FLOAT32, 64, 16), "dilation 2");
        assertFalse(CudnnPooling.supported(new Window2d(2, 2, 1, 1, 0, 1, 1, 1, 1, 1), DType.FLOAT32, 64, 16), "asymmetric padding");
        assertFalse(CudnnPooling.supported(Window2d.of(2, 2, 1, 1, 2, 2, 1, 1), DType.FLOAT32, 64, 16), "padding over half the window");
        assertFalse(CudnnPooling.supported(Window2d.of(2, 2, 2, 2, 0, 0, 1, 1), DType.INT64, 64, 16), "int64");
        assertFalse(CudnnPooling.supported(Window2d.of(2, 2, 2, 2, 0, 0, 1, 1), DType.FLOAT32, 0, 0), "empty");
    }

    @Test void dtypeCodesAndTheNotSupportedFamily() {
        assertEquals(org.bytedeco.cuda.global.cudnn.CUDNN_DATA_FLOAT, Cudnn.dataType(DType.FLOAT32));
        assertEquals(org.bytedeco.cuda.global.cudnn.CUDNN_DATA_DOUBLE, Cudnn.dataType(DType.FLOAT64));
        assertEquals(org.bytedeco.cuda.global.cudnn.CUDNN_DATA_HALF, Cudnn.dataType(DType.FLOAT16));
        assertEquals(org.bytedeco.cuda.global.cudnn.CUDNN_DATA_BFLOAT16, Cudnn.dataType(DType.BFLOAT16));
        assertEquals(-1, Cudnn.dataType(DType.INT8));
        assertTrue(Cudnn.notSupported(org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_NOT_SUPPORTED));
        assertTrue(Cudnn.notSupported(org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_NOT_SUPPORTED_DATA_TYPE));
        assertFalse(Cudnn.notSupported(org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_BAD_PARAM));
        assertFalse(Cudnn.notSupported(org.bytedeco.cuda.global.cudnn.CUDNN_STATUS_SUCCESS));
    }

    @Test void thePlanCacheKeepsTheMostRecentlyUsedAndClosesTheRest() {
        Cudnn.Plans plans = new Cudnn.Plans(4);
        List<Integer> closed = new ArrayList<>();
        for (int k = 0; k < 4; k++) {
            int key = k;
            plans.put(key, () -> closed.add(key));
        }
        plans.get(0);                                            // used again: 1 is now the eldest
        for (int k = 4; k < 7; k++) {
            int key = k;
            plans.put(key, () -> closed.add(key));
        }
        assertEquals(4, plans.size());
        assertEquals(List.of(1, 2, 3), closed, "evicted in least-recently-used order, each closed once");
        assertTrue(plans.containsKey(0), "the plan used again stays");
    }

    @Test void candidatesAreTakenInHeuristicOrderUntilNoneIsLeft() {
        var c = new CudnnConvolution.Candidates(List.of(new CudnnConvolution.Algo(1, 0, 1L << 40), new CudnnConvolution.Algo(0, 0, 0)));
        assertFalse(c.none());
        assertEquals(1, c.current().algo(), "the heuristics' first choice");
        assertTrue(c.next(), "a second one to fall back to (its workspace fits)");
        assertEquals(0, c.current().algo());
        assertFalse(c.next());
        assertTrue(c.none());
        assertTrue(new CudnnConvolution.Candidates(List.of()).none(), "no algorithm with the allowed math: decline");
    }

    @Test void switchedOffCudnnSaysWhy() {
        boolean was = Cudnn.enabled();
        try {
            CudaBackend.setCudnnEnabled(false);
            assertFalse(CudaBackend.cudnnEnabled());
            assertTrue(Cudnn.reason().startsWith("switched off"), Cudnn.reason());
        } finally {
            CudaBackend.setCudnnEnabled(was);
        }
    }

    @Test void aPlanKeyNamesItsShapes() {
        var key = new CudnnConvolution.Key(8, 16, 32, 30, 24, DType.BFLOAT16, Window2d.of(3, 3, 2, 2, 1, 1, 1, 1), 2, false);
        assertEquals("conv2d x [8, 16, 32, 30] weight [24, 8, 3, 3] bfloat16, stride 2x2, padding 1x1, dilation 1x1, groups 2", key.shapes());
    }
}
