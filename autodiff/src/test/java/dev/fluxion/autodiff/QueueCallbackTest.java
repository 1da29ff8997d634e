package dev.fluxion.autodiff;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** Autodiff.queueCallback: runs once the outermost backward has finished, after every rule and gradient hook. */
class QueueCallbackTest {
    @Test void runsAfterTheWholeBackwardInOrder() {
        Tensor w = Tensor.of(2f, 3f).requiresGrad(true), v = Tensor.of(1f, 1f).requiresGrad(true);
        List<String> events = new ArrayList<>();
        Runnable off1 = Autodiff.onGradReady(w, t -> {
            events.add("w ready");
            Autodiff.queueCallback(() -> events.add("first callback, v grad " + (v.grad() != null)));
            Autodiff.queueCallback(() -> events.add("second callback"));
        });
        Runnable off2 = Autodiff.onGradReady(v, t -> events.add("v ready"));
        // checkpoint runs a nested backward inside the outer one: callbacks still wait for the outer one
        Tensor y = Autodiff.checkpoint(in -> in[0].mul(in[1]), w, v).sum();
        y.backward();
        assertEquals(List.of("first callback, v grad true", "second callback"), events.subList(events.size() - 2, events.size()));
        assertTrue(events.indexOf("w ready") < events.indexOf("first callback, v grad true"));
        assertTrue(events.contains("v ready"));
        off1.run();
        off2.run();
    }

    @Test void outsideBackwardItIsRefused() {
        var e = assertThrows(IllegalStateException.class, () -> Autodiff.queueCallback(() -> {}));
        assertTrue(e.getMessage().contains("no backward pass is running"), e.getMessage());
    }

    @Test void aFailedBackwardDropsTheQueuedCallbacks() {
        Tensor w = Tensor.of(2f).requiresGrad(true);
        List<String> events = new ArrayList<>();
        Runnable off = Autodiff.onGradReady(w, t -> {
            Autodiff.queueCallback(() -> events.add("ran"));
            throw new IllegalStateException("hook fails");
        });
        assertThrows(IllegalStateException.class, () -> w.mul(3).sum().backward());
        off.run();
        w.mul(3).sum().backward();
        assertEquals(List.of(), events, "the failed pass's callback neither ran then nor later");
    }
}
