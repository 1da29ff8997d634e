package dev.fluxion.autodiff;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.LinearOp;
import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.cpu.CpuMemory;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;

/**
 * A leaf's first gradient is the rule's own result when nothing else can hold it (no copy), and a copy in every
 * case where keeping it would let a later in-place accumulation change another tensor: the seed passed through,
 * one result returned for two inputs, a view of a larger buffer, a user's rule that may keep what it returns.
 */
class LeafGradientTest {
    private static final Generator G = new Generator(5);

    private static Tensor recordWith(Rule rule, Tensor out, Tensor... inputs) {
        Engine.record("test", rule, out, inputs, new Tensor[0]);
        return out;
    }

    /** Buffers the backward of the fused linear x W^T + b takes, with or without an identity hook on W (the hook's total is always copied). */
    private static long buffersForBackward(boolean hooked) {
        Tensor x = Tensor.randn(G, 16, 32), w = Tensor.randn(G, 64, 32).requiresGrad(true), b = Tensor.randn(G, 64);
        if (hooked) w.registerHook(g -> g);
        Tensor loss = new LinearOp().apply(x, w, b).sum();
        long before = CpuMemory.acquired();
        loss.backward();
        return CpuMemory.acquired() - before;
    }

    @Test void aFreshRuleResultBecomesTheGradientWithoutACopy() {
        buffersForBackward(false);   // warm: the first run may load classes that allocate
        long adopted = buffersForBackward(false), copied = buffersForBackward(true);
        assertEquals(1, copied - adopted, "the hooked run copies w's gradient once; the plain run must not (" + adopted + " vs " + copied + " buffers)");
    }

    @Test void theSeedPassedThroughIsCopied() {
        Tensor a = Tensor.randn(G, 5).requiresGrad(true);
        Tensor seed = Tensor.randn(G, 5);
        float[] expected = seed.toFloatArray();
        a.add(1f).backward(seed);        // add's rule hands the seed on unchanged
        seed.add_(Tensor.full(100, 5));
        assertArrayEquals(expected, a.grad().toFloatArray());
    }

    @Test void oneResultReturnedForTwoInputsIsCopiedForTheSecond() {
        Tensor a = Tensor.randn(G, 4).requiresGrad(true), b = Tensor.randn(G, 4).requiresGrad(true);
        Rule same = Rule.of(Save.NOTHING, (s, g) -> { Tensor t = g.mul(2f); return new Tensor[] {t, t}; });
        Tensor out;
        try (var off = Autodiff.noGrad()) { out = a.add(b); }
        recordWith(same, out, a, b).sum().backward();
        assertNotSame(a.grad().storage(), b.grad().storage());
        a.grad().add_(Tensor.full(1, 4));
        assertArrayEquals(new float[] {2, 2, 2, 2}, b.grad().toFloatArray());
    }

    @Test void aViewOfALargerFreshBufferIsCopied() {
        Tensor a = Tensor.randn(G, 4).requiresGrad(true);
        Tensor[] kept = new Tensor[1];
        Rule view = Rule.of(Save.NOTHING, (s, g) -> { kept[0] = Tensor.zeros(8); return new Tensor[] {kept[0].narrow(0, 2, 4)}; });
        Tensor out;
        try (var off = Autodiff.noGrad()) { out = a.mul(1f); }
        recordWith(view, out, a).sum().backward();
        assertNotSame(kept[0].storage(), a.grad().storage());
        kept[0].add_(Tensor.full(3, 8));
        assertArrayEquals(new float[4], a.grad().toFloatArray());
    }

    @Test void aUserRuleThatKeepsItsResultIsNotAliased() {
        Tensor a = Tensor.randn(G, 3).requiresGrad(true);
        Tensor[] kept = new Tensor[1];
        Tensor y = Autodiff.function("keeps", in -> in[0].mul(3f), (in, out, g) -> { kept[0] = g.mul(3f); return new Tensor[] {kept[0]}; }, a);
        y.sum().backward(null, true);
        y.sum().backward();              // the second pass adds into a.grad in place
        assertArrayEquals(new float[] {6, 6, 6}, a.grad().toFloatArray());
        assertArrayEquals(new float[] {3, 3, 3}, kept[0].toFloatArray(), "the rule's kept tensor must not have been accumulated into");
    }
}
