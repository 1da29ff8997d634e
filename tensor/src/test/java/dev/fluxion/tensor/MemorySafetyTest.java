package dev.fluxion.tensor;

import dev.fluxion.tensor.cpu.CpuMemory;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

import static dev.fluxion.tensor.TensorAssert.assertThrowsWith;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A freed tensor refuses every access with an error that names it, how it was freed and the fix; memory is
 * never handed to another tensor while a view of it lives; storage can be released and re-materialized; and
 * a loop without scopes stays bounded.
 */
class MemorySafetyTest {
    private static final Class<IllegalStateException> ISE = IllegalStateException.class;

    /** The case: 1000 twos read after their scope summed to 1000.0 because a new tensor reused the buffer. */
    @Test void aTensorReadAfterItsScopeThrowsInsteadOfReadingAnotherTensor() {
        Tensor twos;
        try (var scope = Scope.open()) {
            twos = Tensor.full(2.0, 1000);
        }
        Tensor ones = Tensor.ones(1000);                     // takes the buffer the scope gave back
        assertThrowsWith(ISE, () -> twos.sum().item(), "tensor [1000] float32", "freed (by its Scope closed)", "scope.keep(t)", "copy");
        assertThrowsWith(ISE, twos::toFloatArray, "its Scope closed");
        assertThrowsWith(ISE, twos::item, "its Scope closed");
        assertEquals(1000.0, ones.sum().item());
    }

    @Test void everyKindOfAccessToAClosedTensorThrows() {
        Tensor t = Tensor.ones(2, 3);
        t.close();
        List<Runnable> uses = List.of(
                () -> t.sum().item(), t::toFloatArray, t::toDoubleArray, t::toLongArray, () -> t.get(0, 0),
                () -> t.add(1), () -> t.mul(t), () -> Tensor.ones(2, 3).add(t), () -> t.matmul(Tensor.ones(3, 2)),
                () -> t.exp(), () -> t.softmax(-1), () -> t.to(DType.FLOAT64), () -> Tensor.cat(List.of(t, t), 0),
                () -> t.reshape(3, 2), () -> t.view(6), () -> t.t(), () -> t.slice(0, 0, 1), () -> t.select(0, 1),
                () -> t.expand(4, 2, 3), () -> t.detach(), () -> t.contiguous(), () -> t.copy(),
                () -> t.fill_(0), () -> Tensor.zeros(2, 3).copy_(t), () -> t.copy_(Tensor.zeros(2, 3)), t::storage);
        for (int i = 0; i < uses.size(); i++) {
            Runnable use = uses.get(i);
            IllegalStateException e = org.junit.jupiter.api.Assertions.assertThrows(ISE, use::run, "use " + i + " of a closed tensor did not throw");
            assertTrue(e.getMessage().contains("[2, 3] float32") && e.getMessage().contains("close()"), "use " + i + ": " + e.getMessage());
        }
        assertTrue(t.isClosed());
        assertEquals("tensor(<closed>, shape=[2, 3], dtype=float32)", t.toString(), "printing a freed tensor does not throw");
    }

    @Test void aViewOfAFreedTensorTakenBeforeItWasFreedStillWorks() {
        Tensor base = Tensor.arange(0, 8, 1, DType.FLOAT32);
        Tensor view = base.slice(0, 4, 8);
        base.close();
        // the pool must not hand the storage to new tensors while the view lives: allocate many of the same size
        List<Tensor> others = new ArrayList<>();
        for (int i = 0; i < 20; i++) others.add(Tensor.full(-1, 8));
        assertArrayEquals(new float[] {4, 5, 6, 7}, view.toFloatArray());
        assertThrowsWith(ISE, () -> base.slice(0, 0, 4), "close()");
        others.forEach(Tensor::close);
        view.close();
    }

    @Test void aFreeReasonNamesItsOwner() {
        Tensor g = Tensor.ones(4);
        g.free("Adam.zeroGrad()");
        g.close();                                           // the first reason is kept
        assertThrowsWith(ISE, () -> g.sum(), "freed (by Adam.zeroGrad())");
    }

    @Test void releasedStorageRefusesAccessAndRematerializesWithoutANewVersion() {
        Tensor t = Tensor.of(new float[] {1, 2, 3, 4}, 4);
        Tensor view = t.reshape(2, 2);
        Storage s = t.storage();
        int version = s.version();
        s.releaseMemory();
        assertFalse(s.isResident());
        assertThrowsWith(ISE, () -> t.sum(), "released its memory", "materialize()");
        assertThrowsWith(ISE, () -> view.toFloatArray(), "released its memory");
        s.releaseMemory();                                   // a no-op when already released
        s.materialize();
        assertTrue(s.isResident());
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.nativeOrder());
        b.asFloatBuffer().put(new float[] {5, 6, 7, 8});
        s.writeBytes(0, b);                                  // what an all-gather does
        assertArrayEquals(new float[] {5, 6, 7, 8}, view.toFloatArray());
        assertEquals(version, s.version(), "release and materialize keep the version, so the tape accepts the tensor again");
        t.close();
        view.close();
    }

    /**
     * A loop that never closes anything (no scope) allocates 4 MiB per iteration, 1 GiB in all. Without
     * reclamation under allocation pressure, every buffer would wait for a collection that a small heap never
     * needs; with it, the pool collects before it grows and memory stays bounded.
     */
    @Test void memoryOfALoopWithoutScopesStaysBounded() {
        CpuMemory.reclaim();
        long before = CpuMemory.stats().inUse();
        CpuMemory.resetPeak();
        Tensor keep = Tensor.zeros(1 << 20);                 // a little live state, as a model has
        for (int i = 0; i < 256; i++) {
            Tensor a = Tensor.full(i, 1 << 20);             // 4 MiB, never closed
            keep = keep.add(a).mul(0.5);                     // the previous 'keep' becomes garbage too
        }
        CpuMemory.Stats s = CpuMemory.stats();
        long grown = s.peak() - before;
        assertTrue(grown < 256L << 20, "peak grew by " + (grown >> 20) + " MiB for a loop that holds 8 MiB at a time: " + s);
        assertTrue(s.collections() > 0 && s.reclaimed() > 0, "the pool reclaimed unreachable storages: " + s);
        assertEquals(254.0, keep.get(0), 1e-3);                // k = (k + i) / 2 tends to i - 1
    }
}
