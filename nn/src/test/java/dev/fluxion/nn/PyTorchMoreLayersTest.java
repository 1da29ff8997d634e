package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.PadMode;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static dev.fluxion.nn.PyTorchLayersTest.assertClose;
import static org.junit.jupiter.api.DynamicTest.dynamicTest;

/**
 * The layers of issue 15 against PyTorch: weights, buffers and input from layers2.safetensors (written by
 * nn/src/test/python/make_layer2_reference.py), then output, input and parameter gradients of
 * loss = sum(output * r), and buffers after the forward (running statistics), within 1e-5 of each tensor's scale.
 */
class PyTorchMoreLayersTest {
    private static ReferenceFile ref;

    @BeforeAll
    static void load() { ref = ReferenceFile.load("layers2.safetensors"); }

    @AfterEach
    void clearTape() { Autodiff.tape().clear(); }

    private final List<DynamicTest> tests = new ArrayList<>();

    private void layer(String name, Supplier<Module> make) { layer(name, true, make); }

    /** Loads NAME.param.* and NAME.buffer0.* into the module, runs it on NAME.input, checks outputs, gradients and buffers. */
    private void layer(String name, boolean train, Supplier<Module> make) {
        tests.add(dynamicTest(name, () -> {
            Module m = make.get();
            Map<String, Tensor> state = new LinkedHashMap<>();
            ref.tensors().forEach((k, v) -> {
                if (k.startsWith(name + ".param.")) state.put(k.substring((name + ".param.").length()), v);
                if (k.startsWith(name + ".buffer0.")) state.put(k.substring((name + ".buffer0.").length()), v);
            });
            m.loadStateDict(state);
            if (train) m.train(); else m.eval();
            Tensor x = ref.get(name + ".input");
            if (x.dtype() == DType.FLOAT32) x = x.detach().copy().requiresGrad(true);
            Tensor y = m.forward(x);
            assertClose(name + " output", ref.get(name + ".output"), y);
            y.mul(ref.get(name + ".r")).sum().backward();
            if (x.requiresGrad()) assertClose(name + " input gradient", ref.get(name + ".grad.input"), x.grad());
            m.namedParameters().forEach((p, t) -> assertClose(name + " gradient of " + p, ref.get(name + ".grad." + p), t.grad()));
            m.namedBuffers().forEach((b, t) -> assertClose(name + " buffer " + b, ref.get(name + ".buffer." + b), t.to(ref.get(name + ".buffer." + b).dtype())));
        }));
    }

    /** A mask stored as NAME.K (float) or NAME.K_bool (int64 0/1), or null. */
    private static Tensor mask(String name, String k) {
        if (ref.tensors().containsKey(name + "." + k + "_bool")) return ref.get(name + "." + k + "_bool").ne(0);
        return ref.tensors().get(name + "." + k);   // absent: no mask
    }

    /** MultiheadAttention on NAME.query/key/value with its masks; loss = sum(output * r) + sum(weights * r2). */
    private void attention(String name, boolean average, boolean causal, Supplier<MultiheadAttention> make) {
        tests.add(dynamicTest(name, () -> {
            MultiheadAttention m = make.get();
            Map<String, Tensor> state = new LinkedHashMap<>();
            ref.tensors().forEach((k, v) -> { if (k.startsWith(name + ".param.")) state.put(k.substring((name + ".param.").length()), v); });
            m.loadStateDict(state);
            Tensor q = ref.get(name + ".query").detach().copy().requiresGrad(true);
            Tensor k = ref.get(name + ".key").detach().copy().requiresGrad(true);
            Tensor v = ref.get(name + ".value").detach().copy().requiresGrad(true);
            var out = m.attend(q, k, v, mask(name, "kpm"), causal ? null : mask(name, "mask"), true, average, causal);
            assertClose(name + " output", ref.get(name + ".output"), out.output());
            assertClose(name + " weights", ref.get(name + ".weights"), out.weights());
            out.output().mul(ref.get(name + ".r")).sum().add(out.weights().mul(ref.get(name + ".r2")).sum()).backward();
            assertClose(name + " query gradient", ref.get(name + ".grad.query"), q.grad());
            assertClose(name + " key gradient", ref.get(name + ".grad.key"), k.grad());
            assertClose(name + " value gradient", ref.get(name + ".grad.value"), v.grad());
            m.namedParameters().forEach((p, t) -> assertClose(name + " gradient of " + p, ref.get(name + ".grad." + p), t.grad()));
        }));
    }

    /** LSTM or GRU on NAME.input from NAME.init* (or zeros); loss = sum(output * r) + sum(state_i * r_state_i). */
    private void recurrent(String name, Supplier<Recurrent> make) {
        tests.add(dynamicTest(name, () -> {
            Recurrent m = make.get();
            Map<String, Tensor> state = new LinkedHashMap<>();
            ref.tensors().forEach((k, v) -> { if (k.startsWith(name + ".param.")) state.put(k.substring((name + ".param.").length()), v); });
            m.loadStateDict(state);
            Tensor x = ref.get(name + ".input").detach().copy().requiresGrad(true);
            List<Tensor> init = new ArrayList<>();
            for (int i = 0; ref.tensors().containsKey(name + ".init" + i); i++) init.add(ref.get(name + ".init" + i).detach().copy().requiresGrad(true));
            Tensor[] r = m.run(x, init.toArray(new Tensor[0]));
            assertClose(name + " output", ref.get(name + ".output"), r[0]);
            Tensor loss = r[0].mul(ref.get(name + ".r")).sum();
            for (int i = 1; i < r.length; i++) {
                assertClose(name + " final state " + (i - 1), ref.get(name + ".state" + (i - 1)), r[i]);
                loss = loss.add(r[i].mul(ref.get(name + ".r_state" + (i - 1))).sum());
            }
            loss.backward();
            assertClose(name + " input gradient", ref.get(name + ".grad.input"), x.grad());
            for (int i = 0; i < init.size(); i++) assertClose(name + " initial state " + i + " gradient", ref.get(name + ".grad.init" + i), init.get(i).grad());
            m.namedParameters().forEach((p, t) -> assertClose(name + " gradient of " + p, ref.get(name + ".grad." + p), t.grad()));
        }));
    }

    @TestFactory
    List<DynamicTest> everyLayerMatchesPyTorch() {
        Init init = Init.seed(0);
        ConvOptions d = ConvOptions.DEFAULT;
        layer("conv2d_rect_groups", () -> new Conv2d(4, 6, new int[] {3, 5}, d.withStride(2, 1).withPadding(1, 2).withDilation(1, 2).withGroups(2), init));
        layer("conv2d_same_even", () -> new Conv2d(3, 4, new int[] {4}, d.withPadding("same").withDilation(2), init));
        layer("conv2d_depthwise_nobias", () -> new Conv2d(4, 4, new int[] {3}, d.withGroups(4).withBias(false).withPadding("valid"), init));
        layer("conv1d", () -> new Conv1d(3, 4, 3, d.withStride(2).withPadding(1), init));
        layer("conv1d_same", () -> new Conv1d(2, 4, 4, d.withPadding("same"), init));
        layer("conv2d_reflect", () -> new Conv2d(2, 3, new int[] {3}, d.withPadding(1).withPadMode(PadMode.REFLECT), init));
        layer("conv2d_circular_rect", () -> new Conv2d(2, 2, new int[] {3, 2}, d.withPadding(1, 2).withPadMode(PadMode.CIRCULAR), init));
        layer("conv1d_same_replicate", () -> new Conv1d(2, 3, 4, d.withPadding("same").withPadMode(PadMode.REPLICATE), init));
        layer("maxpool2d_ties", () -> new MaxPool2d(2, 2));
        layer("maxpool2d_pad_ties", () -> new MaxPool2d(3, 2, 1, 1));
        layer("maxpool2d_dilated", () -> new MaxPool2d(3, 1, 1, 2));
        layer("avgpool2d_pad", () -> new AvgPool2d(3, 2, 1));
        layer("convtranspose2d", () -> new ConvTranspose2d(4, 6, new int[] {3, 2}, d.withStride(2).withPadding(1).withGroups(2), new int[] {1}, init));
        layer("convtranspose2d_dilated", () -> new ConvTranspose2d(3, 2, new int[] {3}, d.withPadding(2).withDilation(2).withBias(false), new int[] {0}, init));
        layer("batchnorm2d", () -> new BatchNorm2d(3, init));
        layer("batchnorm2d_eval", false, () -> new BatchNorm2d(3, init));
        layer("batchnorm1d_cumulative", () -> new BatchNorm1d(4, 1e-5, null, true, true, init));
        layer("batchnorm1d_3d_noaffine", () -> new BatchNorm1d(3, 1e-3, 0.1, false, true, init));
        layer("batchnorm2d_untracked_eval", false, () -> new BatchNorm2d(2, 1e-5, 0.1, true, false, init));
        layer("groupnorm", () -> new GroupNorm(2, 6, init));
        layer("layernorm_2d", () -> new LayerNorm(new int[] {4, 5}, 1e-5, true, true, init));
        layer("layernorm_noaffine", () -> new LayerNorm(new int[] {3, 4}, 1e-5, false, true, init));
        layer("identity", Identity::new);
        layer("adaptive_avgpool2d", () -> new AdaptiveAvgPool2d(3, 4));
        layer("adaptive_avgpool2d_up", () -> new AdaptiveAvgPool2d(5, 1));
        layer("upsample_scale", () -> Upsample.scale(2));
        layer("upsample_size", () -> Upsample.size(5, 7));
        layer("upsample_1d", () -> Upsample.scale(1.5));
        attention("mha_self_padding", true, false, () -> new MultiheadAttention(8, 2, 0.0, true, true, init));
        attention("mha_cross_float_mask", false, false, () -> new MultiheadAttention(8, 2, init));
        attention("mha_causal", true, true, () -> new MultiheadAttention(8, 4, 0.0, false, true, init));
        attention("mha_mask3d", true, false, () -> new MultiheadAttention(8, 2, 0.0, true, true, init));
        attention("mha_float_kpm", true, false, () -> new MultiheadAttention(8, 2, 0.0, true, true, init));
        recurrent("lstm_2layer_bidir", () -> new LSTM(3, 4, 2, true, true, 0.0, true, init));
        recurrent("lstm_unbatched_nobias", () -> new LSTM(3, 5, 1, false, false, 0.0, false, init));
        recurrent("gru", () -> new GRU(3, 4, init));
        recurrent("gru_2layer_bidir", () -> new GRU(3, 4, 2, true, true, 0.0, true, init));
        return tests;
    }
}
