package dev.fluxion.cuda;

import dev.fluxion.tensor.Backend;
import dev.fluxion.tensor.Backends;
import dev.fluxion.tensor.Device;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;
import java.util.ServiceLoader;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Runs everywhere: with a GPU the provider returns backends, without one it returns one line saying why. */
class CudaBackendProviderTest {
    @Test void registeredAsService() {
        boolean found = ServiceLoader.load(dev.fluxion.tensor.BackendProvider.class).stream()
                .anyMatch(p -> p.type() == CudaBackendProvider.class);
        assertTrue(found, "META-INF/services must register CudaBackendProvider");
    }

    @Test void backendsOrOneLineReason() {
        CudaBackendProvider p = new CudaBackendProvider();
        List<Backend> backends = p.backends();
        Optional<String> reason = p.unavailableReason();
        if (backends.isEmpty()) {
            assertTrue(reason.isPresent(), "no backends and no reason");
            String r = reason.get();
            assertFalse(r.isBlank());
            assertFalse(r.contains("\n"), "reason must be one line: " + r);
            assertTrue(r.contains("CUDA"), r);
        } else {
            for (Backend b : backends) assertEquals(Device.Kind.CUDA, b.device().kind());
        }
    }

    @Test void registryAgreesWithProvider() {
        boolean gpu = Backends.devices().stream().anyMatch(d -> d.kind() == Device.Kind.CUDA);
        assertEquals(!new CudaBackendProvider().backends().isEmpty(), gpu);
        if (!gpu) {
            assertEquals(Device.CPU, Device.best());
            assertTrue(Backends.unavailableReasons().stream().anyMatch(r -> r.contains("CUDA")), Backends.unavailableReasons().toString());
        }
    }

    @Test void describesMissingLibraries() {
        var e = new UnsatisfiedLinkError("no jnicudart in java.library.path");
        e.initCause(new UnsatisfiedLinkError("/x/libjnicudart.so: libcuda.so.1: cannot open shared object file: No such file or directory"));
        String r = CudaBackendProvider.describeLoadFailure("CUDA", e);
        assertTrue(r.contains("NVIDIA driver") && r.contains("libcuda.so.1"), r);
        String blas = CudaBackendProvider.describeLoadFailure("cuBLAS",
                new UnsatisfiedLinkError("/x/libjnicublas.so: libcublasLt.so.13: cannot open shared object file: No such file or directory"));
        assertTrue(blas.contains("cuBLASLt") && blas.contains("nvidia-cublas"), blas);
        String other = CudaBackendProvider.describeLoadFailure("cuDNN", new UnsatisfiedLinkError("something\nelse"));
        assertFalse(other.contains("\n"), other);
    }
}
