package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import java.lang.ref.WeakReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ScopeTest {

    @Test void escapedTensorsOutliveEveryScope() {
        Tensor kept, freed;
        try (var outer = Scope.open()) {
            try (var inner = Scope.open()) {
                kept = Scope.escape(Tensor.ones(2));
                freed = Tensor.ones(2);
            }
        }
        assertEquals(2.0, kept.sum().item());
        assertThrows(IllegalStateException.class, freed::item);
    }

    /** An enclosing scope must not hold escaped tensors: a training loop inside one would keep every step's gradients. */
    @Test void enclosingScopesDoNotHoldEscapedTensors() throws InterruptedException {
        try (var outer = Scope.open()) {
            WeakReference<Tensor> ref;
            try (var inner = Scope.open()) {
                ref = new WeakReference<>(Scope.escape(Tensor.ones(2)));
            }
            for (int i = 0; i < 50 && ref.get() != null; i++) {
                System.gc();
                Thread.sleep(10);
            }
            assertNull(ref.get(), "the escaped tensor is still reachable while the outer scope is open");
        }
    }
}
