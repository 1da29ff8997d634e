package dev.fluxion.tensor.cpu;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The BLAS description names the kernels OpenBLAS runs, and on AMD Zen 4 they are the ones Fluxion asked for. */
class OpenBlasCoreTest {
    @Test void theKernelsInUseAreNamedAndZen4GetsHaswell() {
        String info = CpuBackend.blasInfo();
        if (!NativeKernels.LOADED) return;                  // the name is read through the native library
        assertFalse(info.contains("? kernels"), info);
        boolean ours = System.getenv("OPENBLAS_CORETYPE") == null && System.getProperty("fluxion.blas.core") == null;
        if (ours && OpenBlasCore.isZen4())
            assertTrue(info.contains("Haswell kernels (chosen for AMD Zen 4"), info);
    }
}
