package dev.fluxion.autodiff;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class GradHooksTest {
    @Test
    void firesOncePerPassAfterTheLastContributionInReverseOrder() {
        Tensor w1 = Tensor.of(1f, 2f).requiresGrad(true), w2 = Tensor.of(3f, 4f).requiresGrad(true);
        List<String> fired = new ArrayList<>();
        List<float[]> seen = new ArrayList<>();
        Autodiff.onGradReady(w1, t -> { fired.add("w1"); seen.add(t.grad().toFloatArray()); });
        Runnable remove = Autodiff.onGradReady(w2, t -> fired.add("w2"));
        // w1 feeds the first op twice, w2 only the later one: backward finishes w2 first, w1 after both of its slots
        Tensor y = w1.mul(w1).mul(w2).sum();                 // d/dw1 = 2 w1 w2, d/dw2 = w1^2
        y.backward();
        assertEquals(List.of("w2", "w1"), fired, "w2 is complete first, w1 once both of its contributions are in");
        assertArrayEquals(new float[] {6, 16}, seen.get(0), "the hook sees the finished gradient");
        remove.run();
        w1.setGrad(null);
        w2.setGrad(null);
        w1.mul(w2).sum().backward();
        assertEquals(List.of("w2", "w1", "w1"), fired, "the removed hook no longer fires");
    }

    @Test
    void onlyLeavesTakeHooks() {
        Tensor w = Tensor.ones(2).requiresGrad(true);
        var e = assertThrows(IllegalArgumentException.class, () -> Autodiff.onGradReady(w.mul(2), t -> { }));
        assertEquals(true, e.getMessage().contains("leaves"));
    }
}
