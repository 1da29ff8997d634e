package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Hooks, module paths, replacement, several inputs, Gpt stages, to(dtype), non-strict loading. */
class ModuleSeamsTest {
    private static final Gpt.Config TINY = new Gpt.Config(11, 8, 2, 2, 8, 0.0);

    private static Gpt gpt(long seed) {
        Gpt g = new Gpt(TINY, Init.seed(seed));
        g.eval();
        return g;
    }

    private static Tensor ids() { return Tensor.of(new long[] {1, 4, 2, 9, 0, 3, 3, 7, 5, 10}, 2, 5); }

    /** Wraps a module: y = inner(x) * scale, counting its calls (a LoRA-like replacement with its own parameter). */
    static final class Scaled extends Module {
        final Child<Module> inner;
        final Parameter scale;   // (1)
        int calls;

        Scaled(Module inner, double scale) {
            this.inner = child("inner", inner);
            this.scale = register("scale", Tensor.full(scale, 1));
        }

        @Override protected Tensor compute(Tensor x) {
            calls++;
            return inner.forward(x).mul(scale);
        }
    }

    // ---------------------------------------------------------------- hooks

    @Test
    void preHookReplacesTheInputAndHookTheOutput() {
        Linear l = new Linear(3, 2, true, Init.seed(1));
        Tensor x = Tensor.of(1f, 2f, 3f).reshape(1, 3);
        float[] plain = l.forward(x).toFloatArray(), doubled = l.forward(x.mul(2)).toFloatArray();
        var pre = l.registerForwardPreHook((m, in) -> new Tensor[] {in[0].mul(2)});
        assertArrayEquals(doubled, l.forward(x).toFloatArray(), "the pre-hook's input is what compute sees");
        pre.remove();
        assertArrayEquals(plain, l.forward(x).toFloatArray(), "removed pre-hook no longer runs");
        try (var post = l.registerForwardHook((m, in, out) -> out.add(100))) {
            float[] y = l.forward(x).toFloatArray();
            for (int i = 0; i < y.length; i++) assertEquals(plain[i] + 100, y[i], 1e-4);
        }
        assertArrayEquals(plain, l.forward(x).toFloatArray(), "closing the handle removes the hook");
    }

    @Test
    void hooksRunInRegistrationOrderAroundCompute() {
        List<String> log = new ArrayList<>();
        Module m = new Module() {
            @Override protected Tensor compute(Tensor x) {
                log.add("compute " + (int) x.item());
                return x;
            }
        };
        m.registerForwardPreHook((mod, in) -> { log.add("pre1 " + (int) in[0].item()); return new Tensor[] {in[0].add(1)}; });
        m.registerForwardPreHook((mod, in) -> { log.add("pre2 " + (int) in[0].item()); return null; });
        m.registerForwardHook((mod, in, out) -> { log.add("post1 " + (int) in[0].item()); return out.mul(10); });
        m.registerForwardHook((mod, in, out) -> { log.add("post2 " + (int) out.item()); return null; });
        Tensor y = m.forward(Tensor.full(5, new int[0]));
        assertEquals(List.of("pre1 5", "pre2 6", "compute 6", "post1 6", "post2 60"), log);
        assertEquals(60, y.item());
    }

    @Test
    void hooksOnChildrenFireWhenTheModelRuns() {
        Gpt g = gpt(1);
        int[] mlpCalls = {0}, headCalls = {0};
        g.getSubmodule("blocks.1.mlp").registerForwardHook((m, in, out) -> { mlpCalls[0]++; return null; });
        var h = g.getSubmodule("head").registerForwardPreHook((m, in) -> { headCalls[0]++; return null; });
        g.forward(ids());
        assertEquals(1, mlpCalls[0]);
        assertEquals(1, headCalls[0]);
        h.remove();
        h.remove();   // a second remove is harmless
        g.forward(ids());
        assertEquals(2, mlpCalls[0]);
        assertEquals(1, headCalls[0]);
    }

    @Test
    void forwardChecksTheNumberOfInputs() {
        var e = assertThrows(IllegalArgumentException.class, () -> new Linear(2, 2, true, Init.seed(0)).forward(Tensor.ones(1, 2), Tensor.ones(1, 2)));
        assertEquals("Linear.forward: takes 1 input, got 2", e.getMessage());
        var a = assertThrows(IllegalArgumentException.class, () -> gpt(1).forward(ids(), null, null));
        assertEquals("Gpt.forward: takes 1 to 2 inputs, got 3", a.getMessage());
    }

    // ---------------------------------------------------------------- paths

    @Test
    void namedModulesArePreOrderWithTheRootFirst() {
        TransformerBlock b = new TransformerBlock(8, 2, 0, Init.seed(0));
        assertEquals(List.of("", "ln1", "attn", "attn.qkv", "attn.proj", "attn.attnDropout", "attn.residDropout", "ln2", "mlp", "mlp.0", "mlp.1",
                "mlp.2", "mlp.3"), List.copyOf(b.namedModules().keySet()));
        assertSame(b, b.namedModules().get(""));
        assertSame(b.getSubmodule("attn.qkv"), b.namedModules().get("attn.qkv"));
        Linear shared = new Linear(2, 2, false, Init.seed(0));
        Sequential s = new Sequential(shared, new ReLU(), shared);
        assertEquals(List.of("", "0", "1"), List.copyOf(s.namedModules().keySet()), "a module reachable twice is listed once");
    }

    @Test
    void unknownPathsNameThePathAndTheChildren() {
        Gpt g = gpt(1);
        var e = assertThrows(IllegalArgumentException.class, () -> g.getSubmodule("blocks.0.attn.qvk"));
        assertEquals("getSubmodule: no module 'blocks.0.attn.qvk' in Gpt: 'blocks.0.attn' (CausalSelfAttention) has no child 'qvk'; "
                + "its children are [qkv, proj, attnDropout, residDropout]", e.getMessage());
        var s = assertThrows(IllegalArgumentException.class, () -> g.setSubmodule("blocks.7", new ReLU()));
        assertTrue(s.getMessage().contains("'blocks' (ModuleList) has no child '7'; its children are [0, 1]"), s.getMessage());
        var fixed = assertThrows(IllegalArgumentException.class, () -> g.setSubmodule("blocks.0.attn.attnDropout", new ReLU()));
        assertTrue(fixed.getMessage().contains("keeps it in a field"), fixed.getMessage());
        assertThrows(IllegalArgumentException.class, () -> g.setSubmodule("", new ReLU()));
        ModuleList<Linear> typed = new ModuleList<>(Linear.class, List.of(new Linear(2, 2, true, Init.seed(0))));
        var t = assertThrows(IllegalArgumentException.class, () -> typed.setSubmodule("0", new ReLU()));
        assertEquals("setSubmodule: '0' must hold a Linear, got ReLU", t.getMessage());
    }

    @Test
    void aReplacedLinearIsUsedByForwardListedInTheStateAndTrained() {
        Gpt g = gpt(3);
        Tensor x = ids();
        float[] before = g.forward(x).toFloatArray();
        String path = "blocks.0.attn.qkv";
        Linear old = (Linear) g.getSubmodule(path);
        Scaled wrapper = new Scaled(old, 1.5);
        assertSame(old, g.setSubmodule(path, wrapper), "setSubmodule returns what the path held");
        assertSame(wrapper, g.getSubmodule(path));

        float[] after = g.forward(x).toFloatArray();
        assertEquals(1, wrapper.calls, "forward went through the replacement");
        assertFalse(java.util.Arrays.equals(before, after), "the replacement changed the output");

        Map<String, Parameter> named = g.namedParameters();
        assertSame(wrapper.scale, named.get(path + ".scale"));
        assertSame(old.weight(), named.get(path + ".inner.weight"));
        assertFalse(named.containsKey(path + ".weight"), "the old names are gone");
        assertTrue(g.stateDict().containsKey(path + ".inner.bias"));
        assertEquals(new Gpt(TINY, Init.seed(3)).parameterCount() + 1, g.parameterCount());

        // one training step: the replacement's parameter gets a gradient and the loss falls
        g.train();
        Tensor y = Tensor.of(new long[] {4, 2, 9, 0, 3, 3, 7, 5, 10, 1}, 2, 5);
        Tensor loss = Losses.crossEntropy(g.forward(x), y);
        loss.backward();
        assertNotNull(wrapper.scale.grad(), "gradient reached the new module's parameter");
        assertNotEquals(0.0, wrapper.scale.grad().item());
        assertNotNull(old.weight().grad(), "and the wrapped Linear's");
        try (var off = Autodiff.noGrad()) {
            for (Parameter p : g.parameters()) p.add_(p.grad().mul(-0.5));
        }
        assertTrue(Losses.crossEntropy(g.forward(x), y).item() < loss.item(), "a step through the replacement lowers the loss");
    }

    @Test
    void aWholeBlockCanBeReplacedAndTheModelRunsWithoutIt() {
        Gpt g = gpt(4);
        Tensor x = ids();
        float[] firstBlockOnly = g.logits(g.forwardBlocks(0, 1, g.embed(x))).toFloatArray();
        Module identity = new Module() {
            @Override protected Tensor compute(Tensor... inputs) { return inputs[0]; }   // ignores the mask, as a skipped block would
        };
        Module old = g.setSubmodule("blocks.1", identity);
        assertTrue(old instanceof TransformerBlock);
        assertSame(identity, g.blocks().get(1));
        List<Module> iterated = new ArrayList<>();
        g.blocks().forEach(iterated::add);
        assertSame(identity, iterated.get(1), "iteration sees the replacement");
        assertArrayEquals(firstBlockOnly, g.forward(x).toFloatArray());
        assertFalse(g.stateDict().keySet().stream().anyMatch(k -> k.startsWith("blocks.1.")), "the old block's state is gone");
    }

    // ---------------------------------------------------------------- several inputs, stages

    @Test
    void embedThenTwoHalvesOfBlocksThenLogitsEqualsForward() {
        Gpt g = new Gpt(TINY.withLayers(4), Init.seed(5));
        g.eval();
        Tensor x = ids();
        float[] whole = g.forward(x).toFloatArray();
        Tensor h = g.embed(x);
        h = g.forwardBlocks(0, 2, h);
        h = g.forwardBlocks(2, 4, h);
        assertArrayEquals(whole, g.head().forward(g.finalNorm().forward(h)).toFloatArray(), "bitwise equal");
        assertArrayEquals(whole, g.logits(g.forwardBlocks(0, 4, g.embed(x))).toFloatArray());

        Module first = g.stage(0, 1), middle = g.stage(1, 3), last = g.stage(3, 4);
        assertArrayEquals(whole, last.forward(middle.forward(first.forward(x))).toFloatArray(), "stages chained equal forward");
        assertEquals(List.of("tokens.weight", "positions.weight"), first.stateDict().keySet().stream().filter(k -> !k.startsWith("blocks")).toList());
        assertTrue(middle.stateDict().keySet().stream().allMatch(k -> k.startsWith("blocks.1.") || k.startsWith("blocks.2.")), middle.stateDict().keySet().toString());
        List<String> union = new ArrayList<>(first.stateDict().keySet());
        union.addAll(middle.stateDict().keySet());
        union.addAll(last.stateDict().keySet());
        assertEquals(List.copyOf(g.stateDict().keySet()), union, "the stages' names partition the model's, in order");
        assertSame(g.namedParameters().get("blocks.3.mlp.0.weight"), last.namedParameters().get("blocks.3.mlp.0.weight"), "stages share the parameters");
        var e = assertThrows(IllegalArgumentException.class, () -> g.stage(3, 5));
        assertEquals("Gpt: block range [3, 5) must lie in [0, 4]", e.getMessage());
    }

    @Test
    void attentionMaskBlocksTheKeysItMarks() {
        Generator gen = new Generator(4);
        Tensor q = Tensor.randn(gen, DType.FLOAT64, 1, 1, 3, 2), k = Tensor.randn(gen, DType.FLOAT64, 1, 1, 3, 2), v = Tensor.randn(gen, DType.FLOAT64, 1, 1, 3, 2);
        // query 2 may not attend key 0 (on top of causality)
        Tensor mask = Tensor.of(new boolean[] {true, true, true, true, true, true, false, true, true}, 3, 3);
        double[] y = Functional.causalAttention(q, k, v, mask, 0, null).toDoubleArray();
        double[] qa = q.toDoubleArray(), ka = k.toDoubleArray(), va = v.toDoubleArray();
        double s = 1 / Math.sqrt(2);
        double s1 = (qa[4] * ka[2] + qa[5] * ka[3]) * s, s2 = (qa[4] * ka[4] + qa[5] * ka[5]) * s;
        double w1 = Math.exp(s1) / (Math.exp(s1) + Math.exp(s2)), w2 = 1 - w1;
        assertEquals(w1 * va[2] + w2 * va[4], y[4], 1e-12);
        assertEquals(w1 * va[3] + w2 * va[5], y[5], 1e-12);
        double[] plain = Functional.causalAttention(q, k, v, 0, null).toDoubleArray();
        for (int i = 0; i < 4; i++) assertEquals(plain[i], y[i], 1e-12, "queries 0 and 1 are unaffected");
        var e = assertThrows(IllegalArgumentException.class, () -> Functional.causalAttention(q, k, v, Tensor.ones(3, 3), 0, null));
        assertTrue(e.getMessage().contains("mask must be bool"), e.getMessage());
    }

    @Test
    void gptTakesAPaddingMaskThroughEveryBlock() {
        Gpt g = gpt(6);
        Tensor x = ids();
        float[] plain = g.forward(x).toFloatArray();
        Tensor allTrue = Tensor.ones(2, 1, 1, 5).ne(0);
        // a mask runs the composed attention, no mask the fused kernel: the same values up to float rounding
        assertArrayEquals(plain, g.forward(x, allTrue).toFloatArray(), 1e-5f, "an all-true mask changes nothing");
        boolean[] keep = {true, true, true, true, true, false, true, true, true, true};   // row 1 hides its first token
        float[] masked = g.forward(x, Tensor.of(keep, 2, 1, 1, 5)).toFloatArray();
        int perRow = 5 * TINY.vocab();
        for (int i = 0; i < perRow; i++) assertEquals(plain[i], masked[i], "row 0 has no padding");
        boolean differs = false;
        for (int i = perRow + TINY.vocab(); i < 2 * perRow; i++) differs |= plain[i] != masked[i];
        assertTrue(differs, "row 1's later positions no longer see its first token");
    }

    // ---------------------------------------------------------------- to(dtype), to(device)

    @Test
    void toFloat64KeepsTheParameterObjectsAndComputesInFloat64() {
        Gpt g = gpt(2);
        Tensor x = ids();
        float[] f32 = g.forward(x).toFloatArray();
        List<Parameter> before = g.parameters();
        Losses.crossEntropy(g.forward(x), Tensor.zeros(DType.INT64, 2, 5)).backward();
        assertSame(g, g.to(DType.FLOAT64));
        List<Parameter> after = g.parameters();
        for (int i = 0; i < before.size(); i++) {
            assertSame(before.get(i), after.get(i));
            assertEquals(DType.FLOAT64, after.get(i).dtype());
            assertTrue(after.get(i).requiresGrad());
            assertEquals(DType.FLOAT64, after.get(i).grad().dtype(), "gradients are converted too");
        }
        Tensor y = g.forward(x);
        assertEquals(DType.FLOAT64, y.dtype());
        double[] f64 = y.toDoubleArray();
        for (int i = 0; i < f32.length; i++) assertEquals(f32[i], f64[i], 1e-4);
        g.to(Device.CPU);
        assertSame(before.get(0), g.parameters().get(0), "moving to the device it is on keeps everything");
        assertThrows(IllegalArgumentException.class, () -> g.to(DType.INT64));
    }

    @Test
    void toConvertsFloatingBuffersInPlaceAndLeavesIntegerOnes() {
        class WithBuffers extends Module {
            final Tensor stats = registerBuffer("stats", Tensor.ones(3));
            final Tensor counts = registerBuffer("counts", Tensor.zeros(DType.INT64, 3));

            @Override protected Tensor compute(Tensor x) { return x.mul(stats); }
        }
        WithBuffers m = new WithBuffers();
        m.to(DType.FLOAT64);
        assertEquals(DType.FLOAT64, m.stats.dtype(), "the field sees the converted buffer");
        assertSame(m.stats, m.namedBuffers().get("stats"));
        assertEquals(DType.INT64, m.counts.dtype());
        assertArrayEquals(new double[] {2, 2, 2}, m.forward(Tensor.full(2, DType.FLOAT64, Device.CPU, 3)).toDoubleArray());
    }

    // ---------------------------------------------------------------- non-strict load

    @Test
    void nonStrictLoadReportsMissingAndUnexpectedKeysAndLoadsTheRest() {
        Gpt src = gpt(7), dst = gpt(8);
        float[] headBefore = dst.namedParameters().get("head.weight").toFloatArray();
        Map<String, Tensor> state = new LinkedHashMap<>(src.stateDict());
        state.remove("head.weight");
        state.remove("lnF.bias");
        state.put("extra.weight", Tensor.ones(2));
        Module.LoadResult r = dst.loadStateDict(state, false);
        assertEquals(List.of("lnF.bias", "head.weight"), r.missingKeys());
        assertEquals(List.of("extra.weight"), r.unexpectedKeys());
        assertArrayEquals(src.namedParameters().get("blocks.1.attn.qkv.weight").toFloatArray(), dst.namedParameters().get("blocks.1.attn.qkv.weight").toFloatArray());
        assertArrayEquals(headBefore, dst.namedParameters().get("head.weight").toFloatArray(), "missing keys keep their values");

        Module.LoadResult full = dst.loadStateDict(src.stateDict());
        assertTrue(full.missingKeys().isEmpty() && full.unexpectedKeys().isEmpty());
        assertThrows(IllegalArgumentException.class, () -> dst.loadStateDict(state), "strict refuses the same state");

        Gpt other = gpt(9);
        float[] tokensBefore = other.namedParameters().get("tokens.weight").toFloatArray();
        Map<String, Tensor> wrong = new LinkedHashMap<>(state);
        wrong.put("positions.weight", Tensor.ones(3, 8));
        var e = assertThrows(IllegalArgumentException.class, () -> other.loadStateDict(wrong, false));
        assertTrue(e.getMessage().contains("'positions.weight' has shape [3, 8] in the state, [8, 8] in the module"), e.getMessage());
        assertArrayEquals(tokensBefore, other.namedParameters().get("tokens.weight").toFloatArray(), "nothing was written");
    }
}
