package dev.fluxion.nn;

import dev.fluxion.nn.lora.LoraConfig;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * API misuse of the layers, their configs, Init and loadStateDict: each row is one wrong call, the exception
 * it must raise (never a silent result or a NullPointerException) and words its message must hold.
 */
class MisuseTest {
    private static final double NAN = Double.NaN, INF = Double.POSITIVE_INFINITY;

    private static Arguments row(String call, Class<? extends Throwable> type, Executable action, String... words) {
        return Arguments.of(call, type, action, words);
    }

    private static Map<String, Tensor> with(String key, Tensor value) {
        Map<String, Tensor> m = new HashMap<>(new Linear(2, 3, true, Init.seed(0)).stateDict());
        m.put(key, value);
        return m;
    }

    static Stream<Arguments> rows() {
        Class<IllegalArgumentException> iae = IllegalArgumentException.class;
        Init init = Init.seed(1);
        Embedding emb = new Embedding(4, 3, init);
        Linear lin = new Linear(2, 3, true, init);
        return Stream.of(
                row("Embedding.forward([-1])", IndexOutOfBoundsException.class, () -> emb.forward(Tensor.of(new long[] {-1}, 1)), "-1", "size 4"),
                row("Embedding.forward([[1, -4]])", IndexOutOfBoundsException.class, () -> emb.forward(Tensor.of(new long[] {1, -4}, 1, 2)), "-4"),
                row("Embedding.forward([4])", IndexOutOfBoundsException.class, () -> emb.forward(Tensor.of(new long[] {4}, 1)), "4", "size 4"),
                row("Embedding(0, 3)", iae, () -> new Embedding(0, 3, init), "Embedding", "num=0"),
                row("Embedding(3, -1)", iae, () -> new Embedding(3, -1, init), "Embedding", "dim=-1"),
                row("Dropout(NaN)", iae, () -> new Dropout(NAN, init), "Dropout", "p", "NaN"),
                row("Dropout(-0.1)", iae, () -> new Dropout(-0.1, init), "Dropout", "-0.1"),
                row("Dropout(1.5)", iae, () -> new Dropout(1.5, init), "Dropout", "[0, 1]", "1.5"),
                row("Dropout(inf)", iae, () -> new Dropout(INF, init), "Dropout", "Infinity"),
                row("Functional.dropout(p NaN)", iae, () -> Functional.dropout(Tensor.ones(2), NAN, init.generator()), "dropout", "NaN"),
                row("Gpt.Config dropout NaN", iae, () -> new Gpt.Config(8, 4, 1, 2, 4, NAN), "Gpt.Config", "dropout", "NaN"),
                row("Gpt.Config dropout 1", iae, () -> new Gpt.Config(8, 4, 1, 2, 4, 1), "Gpt.Config", "dropout"),
                row("Gpt.Config dropout -0.5", iae, () -> new Gpt.Config(8, 4, 1, 2, 4, -0.5), "dropout", "-0.5"),
                row("Gpt.Config vocab 0", iae, () -> new Gpt.Config(0, 4, 1, 2, 4, 0), "Gpt.Config", "vocab=0"),
                row("Gpt.Config context -1", iae, () -> new Gpt.Config(8, -1, 1, 2, 4, 0), "context=-1"),
                row("Gpt.Config layers 0", iae, () -> new Gpt.Config(8, 4, 0, 2, 4, 0), "layers=0"),
                row("Gpt.Config heads 0", iae, () -> new Gpt.Config(8, 4, 1, 0, 4, 0), "heads=0"),
                row("Gpt.Config width 0", iae, () -> new Gpt.Config(8, 4, 1, 2, 0, 0), "width=0"),
                row("Gpt.Config width 5 heads 2", iae, () -> new Gpt.Config(8, 4, 1, 2, 5, 0), "divisible"),
                row("loadStateDict(value null)", iae, () -> lin.loadStateDict(with("weight", null)), "loadStateDict", "'weight'", "null"),
                row("loadStateDict(extra key, value null)", iae, () -> lin.loadStateDict(with("extra", null), false), "loadStateDict", "'extra'", "null"),
                row("loadStateDict(null key)", iae, () -> lin.loadStateDict(with(null, Tensor.ones(1)), false), "loadStateDict", "null key"),
                row("loadStateDict(null)", iae, () -> lin.loadStateDict(null), "loadStateDict", "null"),
                row("loadStateDict(wrong shape)", iae, () -> lin.loadStateDict(with("bias", Tensor.ones(4))), "'bias'", "[4]", "[3]"),
                row("loadStateDict(missing key)", iae, () -> lin.loadStateDict(Map.of("weight", Tensor.ones(3, 2))), "missing", "bias"),
                row("Linear(0, 3)", iae, () -> new Linear(0, 3, true, init), "Linear", "in=0"),
                row("Linear(3, -2)", iae, () -> new Linear(3, -2, true, init), "Linear", "out=-2"),
                row("Conv2d kernel 0", iae, () -> new Conv2d(1, 1, 0, 1, 0, true, init), "Conv2d", "kernel=[0]"),
                row("Conv2d stride 0", iae, () -> new Conv2d(1, 1, 3, 0, 0, true, init), "stride", "[0]"),
                row("Conv2d padding -1", iae, () -> new Conv2d(1, 1, 3, 1, -1, true, init), "padding", "[-1]"),
                row("MaxPool2d(0, 1)", iae, () -> new MaxPool2d(0, 1), "MaxPool2d", "kernel 0"),
                row("AvgPool2d(2, 0)", iae, () -> new AvgPool2d(2, 0), "AvgPool2d", "stride 0"),
                row("LayerNorm eps NaN", iae, () -> new LayerNorm(4, NAN, true, init), "LayerNorm", "eps", "NaN"),
                row("LayerNorm eps -1", iae, () -> new LayerNorm(4, -1, true, init), "LayerNorm", "eps", "-1"),
                row("LayerNorm eps inf", iae, () -> new LayerNorm(4, INF, true, init), "LayerNorm", "eps"),
                row("BatchNorm1d eps NaN", iae, () -> new BatchNorm1d(4, NAN, 0.1, true, true, init), "BatchNorm1d", "eps NaN"),
                row("BatchNorm2d momentum NaN", iae, () -> new BatchNorm2d(4, 1e-5, NAN, true, true, init), "BatchNorm2d", "momentum NaN"),
                row("BatchNorm1d 0 features", iae, () -> new BatchNorm1d(0, init), "BatchNorm1d", "numFeatures 0"),
                row("GroupNorm eps NaN", iae, () -> new GroupNorm(2, 4, NAN, true, init), "GroupNorm", "eps NaN"),
                row("GroupNorm 3 groups of 4 channels", iae, () -> new GroupNorm(3, 4, init), "GroupNorm", "multiple"),
                row("RMSNorm eps NaN", iae, () -> new RMSNorm(4, NAN, init), "RMSNorm", "eps", "NaN"),
                row("CausalSelfAttention heads 0", iae, () -> new CausalSelfAttention(4, 0, 0, init), "CausalSelfAttention", "heads 0"),
                row("CausalSelfAttention width 5 heads 2", iae, () -> new CausalSelfAttention(5, 2, 0, init), "divisible"),
                row("CausalSelfAttention dropout NaN", iae, () -> new CausalSelfAttention(4, 2, NAN, init), "CausalSelfAttention", "dropout", "NaN"),
                row("TransformerBlock dropout 2", iae, () -> new TransformerBlock(4, 2, 2, init), "dropout", "2.0"),
                row("Init.uniform(NaN, 1)", iae, () -> init.uniform(NAN, 1, 2), "Init.uniform", "lo", "NaN"),
                row("Init.uniform(0, inf)", iae, () -> init.uniform(0, INF, 2), "Init.uniform", "hi", "Infinity"),
                row("Init.uniform(1, 0)", iae, () -> init.uniform(1, 0, 2), "Init.uniform", "lo 1.0", "hi 0.0"),
                row("Init.uniform(shape -1)", iae, () -> init.uniform(0, 1, -1), "rand", "negative"),
                row("Init.normal(0, -1)", iae, () -> init.normal(0, -1, 2), "Init.normal", "std", "-1"),
                row("Init.normal(0, NaN)", iae, () -> init.normal(0, NAN, 2), "Init.normal", "std", "NaN"),
                row("Init.normal(NaN, 1)", iae, () -> init.normal(NAN, 1, 2), "Init.normal", "mean", "NaN"),
                row("Init.xavierUniform(gain NaN)", iae, () -> init.xavierUniform(NAN, 3, 2), "xavierUniform", "gain", "NaN"),
                row("Init.xavierNormal(gain inf)", iae, () -> init.xavierNormal(INF, 3, 2), "xavierNormal", "gain"),
                row("Init.kaimingUniform(a NaN)", iae, () -> init.kaimingUniform(NAN, 3, 2), "kaimingUniform", "a", "NaN"),
                row("Init.kaimingNormal(a NaN)", iae, () -> init.kaimingNormal(NAN, 3, 2), "kaimingNormal", "NaN"),
                row("Init.fanIn(rank 1)", iae, () -> Init.fanIn(3), "fanIn", "rank"),
                row("LoraConfig r 0", iae, () -> new LoraConfig(0, 8, 0, List.of("q"), null, false), "LoraConfig", "r", "0"),
                row("LoraConfig alpha NaN", iae, () -> new LoraConfig(8, NAN, 0, List.of("q"), null, false), "LoraConfig", "alpha", "NaN"),
                row("LoraConfig alpha inf", iae, () -> new LoraConfig(8, INF, 0, List.of("q"), null, false), "LoraConfig", "alpha", "Infinity"),
                row("LoraConfig alpha -1", iae, () -> new LoraConfig(8, -1, 0, List.of("q"), null, false), "alpha", "-1"),
                row("LoraConfig dropout NaN", iae, () -> new LoraConfig(8, 8, NAN, List.of("q"), null, false), "LoraConfig", "dropout", "NaN"),
                row("LoraConfig dropout 1", iae, () -> new LoraConfig(8, 8, 1, List.of("q"), null, false), "dropout", "1.0"),
                row("LoraConfig target null", iae, () -> new LoraConfig(8, 8, 0, Arrays.asList("q", null), null, false), "LoraConfig", "null"),
                row("LoraConfig names and regex", iae, () -> new LoraConfig(8, 8, 0, List.of("q"), "q.*", false), "not both")
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("rows")
    void misuseFailsClearly(String call, Class<? extends Throwable> type, Executable action, String[] words) {
        Throwable e = assertThrows(type, action, call);
        String m = String.valueOf(e.getMessage());
        for (String w : words) assertTrue(m.contains(w), call + ": expected '" + w + "' in: " + m);
    }
}
