package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * Every layer and loss against PyTorch: the same weights (loaded from the safetensors file the
 * in-repository script nn/src/test/python/make_layer_reference.py wrote), the same input, then the output
 * and the gradients of loss = sum(output * r) must agree within 1e-5 relative to each tensor's scale.
 */
class PyTorchLayersTest {
    private static ReferenceFile ref;

    @BeforeAll
    static void load() { ref = ReferenceFile.load("layers.safetensors"); }

    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    static void assertClose(String what, Tensor expected, Tensor actual) {
        assertTrue(java.util.Arrays.equals(expected.shape(), actual.shape()),
                what + ": shape " + java.util.Arrays.toString(actual.shape()) + ", expected " + java.util.Arrays.toString(expected.shape()));
        float[] e = expected.toFloatArray(), a = actual.toFloatArray();
        double scale = 1e-30, err = 0;
        int worst = 0;
        for (int i = 0; i < e.length; i++) {
            scale = Math.max(scale, Math.abs(e[i]));
            double d = Math.abs(e[i] - a[i]);
            if (!(d <= err)) { err = d; worst = i; }
        }
        assertTrue(err <= 1e-5 * scale, what + ": element " + worst + " is " + a[worst] + ", PyTorch has " + e[worst] + " (relative error " + err / scale + ")");
    }

    private final List<DynamicTest> tests = new ArrayList<>();

    /** Loads NAME.param.* into the module, runs it on NAME.input, checks output and gradients. */
    private void layer(String name, Supplier<Module> make) {
        tests.add(dynamicTest(name, () -> {
            Module m = make.get();
            Map<String, Tensor> state = new LinkedHashMap<>();
            String prefix = name + ".param.";
            ref.tensors().forEach((k, v) -> { if (k.startsWith(prefix)) state.put(k.substring(prefix.length()), v); });
            m.loadStateDict(state);
            Tensor x = ref.get(name + ".input");
            if (x.dtype() == DType.FLOAT32) x = x.detach().copy().requiresGrad(true);
            Tensor y = m.forward(x);
            assertClose(name + " output", ref.get(name + ".output"), y);
            y.mul(ref.get(name + ".r")).sum().backward();
            if (x.requiresGrad()) assertClose(name + " input gradient", ref.get(name + ".grad.input"), x.grad());
            m.namedParameters().forEach((p, t) -> assertClose(name + " gradient of " + p, ref.get(name + ".grad." + p), t.grad()));
        }));
    }

    private void loss(String name, BiFunction<Tensor, Tensor, Tensor> fn) {
        tests.add(dynamicTest(name, () -> {
            Tensor x = ref.get(name + ".input").detach().copy().requiresGrad(true);
            Tensor loss = fn.apply(x, ref.get(name + ".target"));
            assertEquals(ref.get(name + ".output").item(), loss.item(), 1e-5 * Math.abs(ref.get(name + ".output").item()), name + " value");
            loss.backward();
            assertClose(name + " gradient", ref.get(name + ".grad.input"), x.grad());
        }));
    }

    @TestFactory
    List<DynamicTest> everyLayerMatchesPyTorch() {
        Init init = Init.seed(0);
        layer("linear", () -> new Linear(5, 3, true, init));
        layer("linear_nobias_3d", () -> new Linear(5, 3, false, init));
        layer("embedding", () -> new Embedding(7, 4, init));
        layer("layernorm", () -> new LayerNorm(6, init));
        layer("rmsnorm", () -> new RMSNorm(6, 1e-6, init));
        layer("relu", ReLU::new);
        layer("gelu", GELU::new);
        layer("gelu_tanh", () -> new GELU(true));
        layer("silu", SiLU::new);
        layer("tanh", Tanh::new);
        layer("sigmoid", Sigmoid::new);
        layer("sequential", () -> new Sequential(new Linear(4, 8, true, init), new ReLU(), new Linear(8, 2, true, init)));
        layer("conv2d", () -> new Conv2d(2, 3, 3, 1, 1, true, init));
        layer("conv2d_stride2", () -> new Conv2d(3, 4, 3, 2, 0, true, init));
        layer("maxpool2d", () -> new MaxPool2d(2, 2));
        layer("avgpool2d", () -> new AvgPool2d(3, 2));
        layer("flatten", Flatten::new);
        layer("attention", () -> new CausalSelfAttention(8, 2, 0.0, init));
        layer("block", () -> new TransformerBlock(8, 2, 0.0, init));
        layer("gpt", () -> new Gpt(new Gpt.Config(11, 6, 2, 2, 8, 0.0), init));
        loss("cross_entropy", Losses::crossEntropy);
        loss("cross_entropy_smooth", (x, t) -> Losses.crossEntropy(x, t, Losses.IGNORE_INDEX, 0.1));
        loss("nll", (x, t) -> Losses.nll(x.logSoftmax(-1), t, Losses.IGNORE_INDEX));
        loss("mse", Losses::mse);
        loss("bce_with_logits", Losses::bceWithLogits);
        return tests;
    }
}
