package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Device memory returns to its baseline: through scopes, explicit close, and the Cleaner safety net. */
@Tag("gpu")
@SuppressWarnings("try")   // scopes opened only to close what the block creates
class CudaMemoryTest {
    static Device gpu;
    static CudaBackend backend;

    @BeforeEach void device() {
        gpu = CudaTesting.gpu();
        backend = CudaTesting.backend(gpu);
    }

    private static long step(Tensor x, Tensor w) {
        Tensor h = x.matmul(w).relu().add(1).softmax(-1);
        Tensor loss = h.mul(h).sum().add(x.max(0, false).sum());
        return loss.dtype() == DType.FLOAT32 ? 1 : 0;
    }

    @Test void scopesLeaveNothingBehind() {
        Generator g = new Generator(61);
        Tensor x = Tensor.randn(g, 64, 256).to(gpu), w = Tensor.randn(g, 256, 128).to(gpu);
        try (Scope s = Scope.open()) { step(x, w); }                          // warm-up: cuBLAS handles and workspace
        backend.synchronize();
        long base = backend.memoryStats().inUse(), allocations = backend.memoryStats().allocations();
        for (int i = 0; i < 2000; i++) try (Scope s = Scope.open()) { step(x, w); }
        backend.synchronize();
        MemoryStats after = backend.memoryStats();
        assertEquals(base, after.inUse(), "device bytes after 2000 scoped steps: " + after);
        assertEquals(allocations, after.allocations());
        assertTrue(after.peak() >= base, after.toString());
        assertTrue(after.reserved() >= after.inUse(), after.toString());
    }

    @Test void closeFreesAtOnceAndPeakIsTracked() {
        backend.synchronize();
        long base = backend.memoryStats().inUse();
        backend.resetPeak();
        Tensor big = Tensor.empty(DType.FLOAT32, gpu, 16 << 20);            // 64 MiB
        assertEquals(base + (64L << 20), backend.memoryStats().inUse());
        big.close();
        assertEquals(base, backend.memoryStats().inUse());
        assertTrue(backend.memoryStats().peak() >= base + (64L << 20));
        assertThrows(IllegalStateException.class, big::toFloatArray);
    }

    @Test void unreachableTensorsAreFreedByTheCleaner() throws InterruptedException {
        backend.synchronize();
        long base = backend.memoryStats().inUse();
        for (int i = 0; i < 200; i++) Tensor.zeros(DType.FLOAT32, gpu, 1 << 18);   // 1 MiB each, never closed
        assertTrue(backend.memoryStats().inUse() >= base + (200L << 20));
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (backend.memoryStats().inUse() > base && System.nanoTime() < deadline) {
            System.gc();
            Thread.sleep(50);
        }
        assertEquals(base, backend.memoryStats().inUse(), "the Cleaner must free unreachable storages");
    }

    @Test void outOfMemoryNamesTheRequestAndThePool() {
        var e = assertThrows(CudaOutOfMemoryException.class, () -> backend.cudaDevice().allocator.allocate(1L << 50));
        assertEquals(1L << 50, e.requestedBytes());
        String m = e.getMessage();
        assertTrue(m.contains(gpu.toString()) && m.contains("1125899906842624 bytes") && m.contains("reserved by the pool") && m.contains("in use"), m);
        Tensor ok = Tensor.ones(DType.FLOAT32, gpu, 10);                   // the device still works
        assertEquals(10.0, ok.sum().item());
    }
}
