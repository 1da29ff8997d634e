package dev.fluxion.tensor;

import dev.fluxion.tensor.cpu.CpuMemory;
import org.junit.jupiter.api.Test;

import static dev.fluxion.tensor.TensorAssert.assertThrowsWith;
import static dev.fluxion.tensor.TensorAssert.assertValues;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Scope, close(), shared storage lifetime and the CPU memory pool's statistics. */
class MemoryTest {

    @Test void scopeClosesTemporariesAndKeepSurvives() {
        Tensor outside = Tensor.ones(4);
        Tensor a, b, kept;
        try (Scope scope = Scope.open()) {
            a = Tensor.ones(4);
            b = a.mul(2).add(outside);
            kept = scope.keep(b.sum());
            assertFalse(a.isClosed());
        }
        assertTrue(a.isClosed(), "a temporary is closed with its scope");
        assertTrue(b.isClosed());
        assertFalse(kept.isClosed(), "keep() survives the scope");
        assertEquals(12, kept.item());
        assertFalse(outside.isClosed(), "tensors made before the scope are not touched");
        assertEquals(4, outside.sum().item());
    }

    @Test void nestedScopesHandKeptTensorsToTheParent() {
        Tensor inner, keptInner, escaped;
        try (Scope outer = Scope.open()) {
            try (Scope scope = Scope.open()) {
                inner = Tensor.zeros(3);
                keptInner = scope.keep(Tensor.ones(3));
                escaped = Scope.escape(Tensor.ones(2));
            }
            assertTrue(inner.isClosed());
            assertFalse(keptInner.isClosed(), "kept: moved to the enclosing scope");
            assertFalse(escaped.isClosed());
        }
        assertTrue(keptInner.isClosed(), "the enclosing scope closes what the inner one kept");
        assertFalse(escaped.isClosed(), "escape() outlives every scope");
        escaped.close();
        assertTrue(escaped.isClosed());
    }

    @Test void closingAScopeOutOfOrderFails() {
        Scope outer = Scope.open();
        Scope inner = Scope.open();
        try {
            assertThrowsWith(IllegalStateException.class, outer::close, "Scope.close", "innermost");
        } finally {
            inner.close();
            outer.close();
        }
        outer.close();                                      // closing twice is a no-op
    }

    @Test void viewsKeepTheStorageAlive() {
        Tensor base = Tensor.arange(0, 6, 1, DType.FLOAT32);
        Storage storage = base.storage();
        Tensor view = base.reshape(2, 3);
        Tensor slice = base.slice(0, 1, 4);
        base.close();
        assertTrue(base.isClosed(), "the base itself is freed");
        assertFalse(storage.isClosed(), "other views still hold the storage");
        // reading values makes internal views of the storage; a scope closes them (outside one, they would
        // hold the storage until the garbage collector finds them)
        try (Scope read = Scope.open()) {
            assertValues(view, new int[] {2, 3}, 0, 1, 2, 3, 4, 5);
        }
        view.close();
        view.close();                                       // idempotent: must not release twice
        assertFalse(slice.isClosed());
        try (Scope read = Scope.open()) {
            assertValues(slice, 1, 2, 3);
        }
        slice.close();
        assertTrue(storage.isClosed(), "the last view returns the memory");

        Tensor kept;
        try (Scope scope = Scope.open()) {
            Tensor t = Tensor.ones(2, 2);
            kept = scope.keep(t.t());                       // only the view is kept; the base closes
        }
        assertFalse(kept.isClosed());
        assertEquals(4, kept.sum().item());
    }

    @Test void useAfterCloseFailsLoudly() {
        Tensor t = Tensor.ones(3);
        t.close();
        assertThrowsWith(IllegalStateException.class, t::toFloatArray, "tensor [3] float32", "freed (by close())", "scope.keep");
        assertThrowsWith(IllegalStateException.class, () -> t.fill_(1), "freed (by close())");
        assertEquals("tensor(<closed>, shape=[3], dtype=float32)", t.toString());
    }

    @Test void memoryStatsReturnToBaselineAfterClose() {
        long before = quiescentInUse();
        Tensor a = Tensor.zeros(1000, 100);                  // 400 000 bytes
        CpuMemory.Stats during = CpuMemory.stats();
        assertTrue(during.inUse() - before >= 400_000, "allocation shows in inUse: " + during + " vs " + before);
        assertTrue(during.peak() >= during.inUse());
        Tensor b;
        try (Scope scope = Scope.open()) {
            b = a.add(1).mul(3);                            // two more buffers, one kept
            scope.keep(b);
        }
        a.close();
        b.close();
        assertEquals(before, CpuMemory.stats().inUse(), "every buffer went back");
        assertTrue(CpuMemory.stats().cached() >= 400_000, "closed buffers are cached for reuse");
        Tensor c = Tensor.zeros(1000, 100);                  // reuses a cached buffer of the same size class
        assertEquals(during.inUse(), CpuMemory.stats().inUse());
        c.close();
        CpuMemory.emptyCache();
        assertEquals(0, CpuMemory.stats().cached());
        assertEquals(before, CpuMemory.stats().inUse());
    }

    /** inUse once every storage that earlier tests left unreachable is back in the pool. */
    private static long quiescentInUse() {
        long last = -1;
        for (int i = 0; i < 10; i++) {                      // until two collections in a row find nothing more
            CpuMemory.reclaim();
            long now = CpuMemory.stats().inUse();
            if (now == last) return now;
            last = now;
        }
        return last;
    }
}
