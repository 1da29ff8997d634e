package dev.fluxion.nn.lora;

import dev.fluxion.nn.ReferenceFile;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Functional;
import dev.fluxion.nn.GELU;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.Sequential;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** LoRA layers: PEFT's init and scaling, forward and gradients against PyTorch and a composed reference, merge. */
class LoraTest {
    private static ReferenceFile ref;

    @BeforeAll
    static void load() { ref = ReferenceFile.load("lora.safetensors"); }

    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    static void assertClose(String what, Tensor expected, Tensor actual, double tol) {
        assertArrayEquals(expected.shape(), actual.shape(), what + ": shape");
        double[] e = expected.toDoubleArray(), a = actual.toDoubleArray();
        double scale = 1e-30, err = 0;
        for (int i = 0; i < e.length; i++) { scale = Math.max(scale, Math.abs(e[i])); err = Math.max(err, Math.abs(e[i] - a[i])); }
        assertTrue(err <= tol * scale, what + ": max error " + err + " relative to scale " + scale);
    }

    /** A two-layer MLP whose layers sit at "0" and "2", both replaceable. */
    static Sequential mlp(Init init) { return new Sequential(new Linear(6, 8, true, init), new GELU(true), new Linear(8, 5, true, init)); }

    static void set(Tensor p, Tensor value) {
        try (var off = Autodiff.noGrad()) { p.copy_(value); }
    }

    @Test
    void wrappedModelComputesWhatTheBaseDidAtStepZeroAndOnlyAdaptersTrain() {
        Sequential model = mlp(Init.seed(1));
        Tensor x = Tensor.randn(new Generator(2), 4, 6);
        float[] before = model.forward(x).toFloatArray();
        Map<String, LoraLayer> wrapped = Lora.wrap(model, LoraConfig.of(2, 4, "0", "2"), Init.seed(3));
        assertEquals(java.util.List.of("0", "2"), java.util.List.copyOf(wrapped.keySet()));
        assertInstanceOf(LoraLinear.class, model.getSubmodule("0"));
        assertArrayEquals(before, model.forward(x).toFloatArray(), 0f, "B = 0: the output is unchanged at step 0");
        // PEFT's names and init: A ~ U(-1/sqrt(in), 1/sqrt(in)) (kaiming_uniform a=sqrt(5)), B = 0
        Map<String, Parameter> named = model.namedParameters();
        assertTrue(named.containsKey("0.base_layer.weight") && named.containsKey("0.lora_A.default.weight") && named.containsKey("2.lora_B.default.weight"), named.keySet().toString());
        float[] a = named.get("0.lora_A.default.weight").toFloatArray();
        double bound = 1 / Math.sqrt(6), max = 0;
        for (float v : a) max = Math.max(max, Math.abs(v));
        assertTrue(max <= bound && max > bound * 0.5, "A within the kaiming bound " + bound + ", max |A| " + max);
        for (float v : named.get("0.lora_B.default.weight").toFloatArray()) assertEquals(0f, v);
        // frozen base, trainable adapters; PEFT's line
        for (var e : named.entrySet()) assertEquals(e.getKey().contains("lora_"), e.getValue().requiresGrad(), e.getKey());
        long trainable = 2 * 6 + 8 * 2 + 2 * 8 + 5 * 2, total = trainable + 6 * 8 + 8 + 8 * 5 + 5;
        assertEquals(String.format(java.util.Locale.ROOT, "trainable params: %,d || all params: %,d || trainable%%: %.4f", trainable, total, 100.0 * trainable / total),
                Lora.describeTrainable(model));
        // after a backward only the adapters have gradients (B's is nonzero, A's zero since B = 0)
        model.forward(x).sum().backward();
        assertNull(named.get("0.base_layer.weight").grad());
        assertTrue(named.get("2.lora_B.default.weight").grad().abs().sum().item() > 0);
    }

    @Test
    void linearMatchesPyTorch() {
        Linear base = new Linear(6, 5, true, Init.seed(0));
        set(base.weight(), ref.get("linear.weight"));
        set(base.bias(), ref.get("linear.bias"));
        LoraLinear lora = new LoraLinear(base, LoraLayer.DEFAULT, LoraConfig.of(4, 8), Init.seed(1));
        Lora.freezeAllButAdapters(lora);
        Map<String, Parameter> p = lora.adapterParameters(LoraLayer.DEFAULT);
        set(p.get("lora_A.weight"), ref.get("linear.A"));
        set(p.get("lora_B.weight"), ref.get("linear.B"));
        Tensor x = ref.get("linear.x").detach().copy().requiresGrad(true);
        Tensor y = lora.forward(x);
        assertClose("y", ref.get("linear.y"), y, 1e-5);
        y.mul(ref.get("linear.r")).sum().backward();
        assertClose("grad x", ref.get("linear.grad.x"), x.grad(), 1e-5);
        assertClose("grad A", ref.get("linear.grad.A"), p.get("lora_A.weight").grad(), 1e-5);
        assertClose("grad B", ref.get("linear.grad.B"), p.get("lora_B.weight").grad(), 1e-5);
        assertNull(base.weight().grad(), "the base is frozen");

        LoraLinear rs = new LoraLinear(base, LoraLayer.DEFAULT, LoraConfig.of(4, 8).withRslora(true), Init.seed(1));
        set(rs.adapterParameters(LoraLayer.DEFAULT).get("lora_A.weight"), ref.get("linear.A"));
        set(rs.adapterParameters(LoraLayer.DEFAULT).get("lora_B.weight"), ref.get("linear.B"));
        assertEquals(4.0, rs.config(LoraLayer.DEFAULT).scaling());
        assertClose("rsLoRA y", ref.get("rslora.y"), rs.forward(ref.get("linear.x")), 1e-5);
    }

    @Test
    void embeddingMatchesPyTorch() {
        Embedding base = new Embedding(7, 4, Init.seed(0));
        set(base.weight(), ref.get("embedding.weight"));
        LoraEmbedding lora = new LoraEmbedding(base, LoraLayer.DEFAULT, LoraConfig.of(3, 6), Init.seed(1));
        for (float v : lora.adapterParameters(LoraLayer.DEFAULT).get("lora_embedding_A").toFloatArray()) assertEquals(0f, v, "embedding A starts at 0");
        Lora.freezeAllButAdapters(lora);
        Map<String, Parameter> p = lora.adapterParameters(LoraLayer.DEFAULT);
        set(p.get("lora_embedding_A"), ref.get("embedding.A"));
        set(p.get("lora_embedding_B"), ref.get("embedding.B"));
        Tensor y = lora.forward(ref.get("embedding.ids"));
        assertClose("y", ref.get("embedding.y"), y, 1e-5);
        y.mul(ref.get("embedding.r")).sum().backward();
        assertClose("grad A", ref.get("embedding.grad.A"), p.get("lora_embedding_A").grad(), 1e-5);
        assertClose("grad B", ref.get("embedding.grad.B"), p.get("lora_embedding_B").grad(), 1e-5);
    }

    /** With dropout, against the same formula written with plain ops in float64 and the same random stream. */
    @Test
    void forwardAndGradientsMatchComposedReferenceWithDropout() {
        Init init = Init.seed(5).withDtype(DType.FLOAT64);
        Linear base = new Linear(6, 5, true, init);
        LoraLinear lora = new LoraLinear(base, LoraLayer.DEFAULT, LoraConfig.of(3, 5).withDropout(0.3), init);
        Lora.freezeAllButAdapters(lora);
        Parameter a = lora.adapterParameters(LoraLayer.DEFAULT).get("lora_A.weight"), b = lora.adapterParameters(LoraLayer.DEFAULT).get("lora_B.weight");
        set(b, Tensor.randn(new Generator(6), DType.FLOAT64, 5, 3));
        Tensor x = Tensor.randn(new Generator(7), DType.FLOAT64, 4, 6).requiresGrad(true);
        long[] state = init.generator().state();
        Tensor y = lora.forward(x);
        Tensor r = Tensor.randn(new Generator(8), DType.FLOAT64, 4, 5);
        y.mul(r).sum().backward();
        Tensor gx = x.grad(), ga = a.grad(), gb = b.grad();

        init.generator().setState(state);
        Tensor x2 = x.detach().copy().requiresGrad(true), a2 = a.detach().copy().requiresGrad(true), b2 = b.detach().copy().requiresGrad(true);
        Tensor y2 = Functional.linear(x2, base.weight(), base.bias())
                .add(Functional.dropout(x2, 0.3, init.generator()).matmul(a2.t()).matmul(b2.t()).mul(5.0 / 3));
        y2.mul(r).sum().backward();
        assertClose("y", y2, y, 1e-12);
        assertClose("grad x", x2.grad(), gx, 1e-12);
        assertClose("grad A", a2.grad(), ga, 1e-12);
        assertClose("grad B", b2.grad(), gb, 1e-12);
        assertFalse(Arrays.equals(y.toDoubleArray(), Functional.linear(x, base.weight(), base.bias()).add(x.matmul(a.t()).matmul(b.t()).mul(5.0 / 3)).toDoubleArray()),
                "dropout changed something");
        lora.eval();
        assertClose("eval: no dropout", Functional.linear(x, base.weight(), base.bias()).add(x.matmul(a.t()).matmul(b.t()).mul(5.0 / 3)), lora.forward(x), 1e-12);
    }

    @Test
    void mergeThenUnmergeRestoresTheBaseBitwise() {
        Sequential model = mlp(Init.seed(11));
        Lora.wrap(model, LoraConfig.of(2, 7, "0", "2"), Init.seed(12));
        for (LoraLayer l : Lora.layers(model).values())
            set(l.adapterParameters(LoraLayer.DEFAULT).get("lora_B.weight"), Tensor.randn(new Generator(13), DType.FLOAT32,
                    l.adapterParameters(LoraLayer.DEFAULT).get("lora_B.weight").shape()));
        Linear first = (Linear) Lora.layers(model).get("0").base();
        float[] w0 = first.weight().toFloatArray();
        Tensor x = Tensor.randn(new Generator(14), 3, 6);
        Tensor unmergedY = model.forward(x);
        Lora.merge(model);
        assertFalse(Arrays.equals(w0, first.weight().toFloatArray()), "merge changed the weight");
        assertClose("merged output", unmergedY, model.forward(x), 1e-5);
        Lora.unmerge(model);
        float[] w1 = first.weight().toFloatArray();
        for (int i = 0; i < w0.length; i++) assertEquals(Float.floatToRawIntBits(w0[i]), Float.floatToRawIntBits(w1[i]), "element " + i + " restored bitwise");
        assertArrayEquals(unmergedY.toFloatArray(), model.forward(x).toFloatArray(), 0f);
        assertThrows(IllegalStateException.class, () -> Lora.unmerge(model));

        // merge_and_unload: the Linear is back at its path, holding W + scaling B A
        Tensor delta = ((LoraLinear) model.getSubmodule("0")).deltaWeight(LoraLayer.DEFAULT);
        Lora.mergeAndUnload(model);
        assertSame(first, model.getSubmodule("0"));
        assertClose("merged weight", Tensor.of(w0, 8, 6).add(delta), first.weight(), 1e-6);
        assertClose("unloaded output", unmergedY, model.forward(x), 1e-5);
    }

    @Test
    void embeddingMergeUnmergeIsExact() {
        Embedding base = new Embedding(7, 4, Init.seed(0));
        LoraEmbedding lora = new LoraEmbedding(base, LoraLayer.DEFAULT, LoraConfig.of(2, 4), Init.seed(1));
        set(lora.adapterParameters(LoraLayer.DEFAULT).get("lora_embedding_A"), Tensor.randn(new Generator(2), 2, 7));
        float[] w0 = base.weight().toFloatArray();
        Tensor ids = Tensor.of(new long[] {1, 4, 6}, 3);
        Tensor y = lora.forward(ids);
        lora.merge();
        assertClose("merged", y, lora.forward(ids), 1e-5);
        lora.unmerge();
        float[] w1 = base.weight().toFloatArray();
        for (int i = 0; i < w0.length; i++) assertEquals(Float.floatToRawIntBits(w0[i]), Float.floatToRawIntBits(w1[i]));
    }

    @Test
    void targetsByRegexAndClearErrors() {
        Module model = mlp(Init.seed(1));
        assertEquals(java.util.Set.of("2"), Lora.wrap(model, LoraConfig.DEFAULT.withTargetRegex("[2-9]"), Init.seed(0)).keySet());
        var e = assertThrows(IllegalArgumentException.class, () -> Lora.wrap(mlp(Init.seed(1)), LoraConfig.of(2, 2, "qkv"), Init.seed(0)));
        assertTrue(e.getMessage().contains("[qkv]") && e.getMessage().contains("[0, 2]"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new LoraConfig(0, 1, 0, java.util.List.of(), null, false));
    }
}
