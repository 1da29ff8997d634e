package dev.fluxion.optim;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The CPU backend's fused Adam/AdamW kernel (used for contiguous float32 parameters) gives the same bits
 * as the op-by-op path (used here by a transposed, non-contiguous copy of the same parameter).
 */
class FusedAdamTest {
    private static void compare(Function<List<Tensor>, Optimizer<?, ?>> make) {
        var g = new Generator(8);
        Tensor init = Tensor.randn(g, 37, 53);                   // not a multiple of the vector width
        Tensor fusedP = init.copy().requiresGrad(true);
        Tensor opsP = init.t().copy().t().requiresGrad(true);     // same values, column-major: no fused kernel
        Optimizer<?, ?> fused = make.apply(List.of(fusedP)), ops = make.apply(List.of(opsP));
        for (int step = 0; step < 5; step++) {
            Tensor grad = Tensor.randn(g, 37, 53);
            fusedP.setGrad(grad);
            opsP.setGrad(grad.t().copy().t());
            fused.step();
            ops.step();
        }
        assertArrayEquals(opsP.toFloatArray(), fusedP.toFloatArray(), 0f);
    }

    @Test
    void adamFusedEqualsOps() {
        compare(p -> new Adam(p, Adam.Config.DEFAULT.withLr(1e-2).withWeightDecay(0.1)));
        compare(p -> new Adam(p, Adam.Config.DEFAULT.withLr(1e-2).withAmsgrad(true)));
    }

    @Test
    void adamWFusedEqualsOps() {
        compare(p -> new AdamW(p, AdamW.Config.DEFAULT.withLr(1e-2)));
        compare(p -> new AdamW(p, AdamW.Config.DEFAULT.withLr(1e-2).withAmsgrad(true).withWeightDecay(0)));
    }
}
