package dev.fluxion.parallel.fsdp;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.lora.Lora;
import dev.fluxion.nn.lora.LoraConfig;
import dev.fluxion.nn.lora.Nf4Linear;
import dev.fluxion.optim.AdamW;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * LoRA and QLoRA under FSDP: a small GPT with adapters on its attention Linears (and, for QLoRA, every
 * block Linear quantized to NF4 with double quantization) trains a few AdamW steps on N thread-ranks to
 * where one process training on the concatenated batch leaves it. Only the adapters get gradients and
 * optimizer state; the NF4 base is sharded by whole quantization blocks (about 1/N of its bytes per rank)
 * and comes back bit for bit.
 */
class LoraFsdpTest {
    static final int STEPS = 3;
    static final Duration TIMEOUT = Duration.ofSeconds(60);

    /** The same model on every rank: float64 (as FsdpHarness explains), adapters with a nonzero B so A trains from step 1. */
    static Gpt model(boolean qlora) {
        Gpt m = new Gpt(FsdpHarness.CONFIG, Init.seed(7));
        if (qlora) Lora.quantize(m, path -> path.startsWith("blocks."), true);
        Lora.wrap(m, LoraConfig.of(4, 8, "qkv", "proj"), Init.seed(2));
        m.to(DType.FLOAT64);
        Generator g = new Generator(3);
        try (var off = Autodiff.noGrad()) {
            for (var e : m.namedParameters().entrySet())
                if (e.getKey().contains("lora_B")) e.getValue().copy_(Tensor.randn(g, e.getValue().shape()).mul(0.1).to(DType.FLOAT64));
        }
        return m;
    }

    static Map<String, float[]> adapters(Map<String, Tensor> state) {
        Map<String, float[]> out = new LinkedHashMap<>();
        for (var e : state.entrySet()) if (e.getKey().contains("lora_")) out.put(e.getKey(), e.getValue().toFloatArray());
        return out;
    }

    static Map<String, Nf4Linear> nf4(Module m) {
        Map<String, Nf4Linear> out = new LinkedHashMap<>();
        for (var e : m.namedModules().entrySet()) if (e.getValue() instanceof Nf4Linear q) out.put(e.getKey(), q);
        return out;
    }

    static Map<String, float[]> singleProcess(boolean qlora, int ranks) {
        Gpt m = model(qlora);
        AdamW opt = new AdamW(Lora.trainable(m), FsdpHarness.ADAMW);
        for (int step = 0; step < STEPS; step++)
            try (var s = Scope.open()) {
                Tensor[] b = FsdpHarness.batch(step, ranks);
                Tensor loss = Losses.crossEntropy(m.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        return adapters(m.stateDict());
    }

    @ParameterizedTest(name = "qlora={0}, ranks={1}")
    @CsvSource({"false, 2", "false, 4", "true, 2", "true, 4"})
    void adaptersTrainUnderFsdpAsOnOneProcess(boolean qlora, int ranks) throws Exception {
        Map<String, float[]> want = singleProcess(qlora, ranks);
        Gpt reference = model(qlora);
        Map<String, Nf4Linear> refNf4 = nf4(reference);
        long totalNf4 = 0;
        for (Nf4Linear q : refNf4.values()) totalNf4 += q.weight().bytes();
        long nestedNf4 = 0;   // what every rank keeps whole: the double-quantization state
        for (Nf4Linear q : refNf4.values()) nestedNf4 += 4L * q.weight().nestedAbsmax().length + 4;
        long wholeNf4 = totalNf4, nested = nestedNf4;
        List<Map<String, float[]>> got = LocalCluster.run(ranks, TIMEOUT, pg -> {
            Gpt m = model(qlora);
            var fsdp = FullyShardedDataParallel.fullyShard(m, pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            if (qlora) {
                long held = fsdp.quantizedShardBytes();
                for (Nf4Linear q : nf4(m).values()) {
                    assertFalse(q.weight().isResident(), "the NF4 codes are released while sharded");
                    held += q.weight().bytes();
                }
                System.out.printf("rank %d of %d: NF4 base bytes held %d of %d (%.3f)%n", pg.rank(), ranks, held, wholeNf4, (double) held / wholeNf4);
                assertEquals((wholeNf4 - nested) / ranks + nested, held, "NF4 bytes per rank: 1/N of codes and block scales, plus the nested state");
            }
            List<Parameter> shards = fsdp.parameters();
            AdamW opt = new AdamW(shards, FsdpHarness.ADAMW);      // every shard, frozen ones included: the optimizer must skip those
            for (int step = 0; step < STEPS; step++)
                try (var s = Scope.open()) {
                    Tensor[] b = FsdpHarness.part(FsdpHarness.batch(step, ranks), pg.rank(), ranks);
                    Tensor loss = Losses.crossEntropy(m.forward(b[0]), b[1]);
                    opt.zeroGrad();
                    loss.backward();
                    for (var e : fsdp.namedParameters().entrySet())
                        if (!e.getKey().contains("lora_")) assertNull(e.getValue().grad(), e.getKey() + " is frozen: its shard gets no gradient");
                    for (var e : m.namedParameters().entrySet()) assertNull(e.getValue().grad(), e.getKey() + ": gradients live in the shards only");
                    opt.step();
                }
            Set<Integer> withState = new TreeSet<>(), adapterIndices = new TreeSet<>();
            for (String k : opt.stateDict().keySet())
                if (k.startsWith("state.")) withState.add(Integer.parseInt(k.split("\\.")[1]));
            List<String> names = new ArrayList<>(fsdp.namedParameters().keySet());
            for (int i = 0; i < names.size(); i++) if (names.get(i).contains("lora_")) adapterIndices.add(i);
            assertEquals(adapterIndices, withState, "optimizer state exists for the adapter shards and nothing else");
            Map<String, float[]> out = adapters(fsdp.fullStateDict());
            if (qlora) {
                fsdp.detach();   // gathers every unit for good: the NF4 weights must be whole and unchanged
                for (var e : nf4(m).entrySet()) {
                    var ref = refNf4.get(e.getKey()).weight();
                    assertTrue(e.getValue().weight().isResident());
                    assertArrayEquals(ref.packed(), e.getValue().weight().packed(), e.getKey() + ": NF4 codes after training");
                    assertArrayEquals(ref.quantizedAbsmax(), e.getValue().weight().quantizedAbsmax(), e.getKey() + ": block scales after training");
                    assertArrayEquals(ref.nestedAbsmax(), e.getValue().weight().nestedAbsmax(), e.getKey() + ": nested scales");
                }
            }
            return out;
        });
        Map<String, float[]> initial = adapters(model(qlora).stateDict());
        double moved = 0;
        for (String k : want.keySet())
            for (int i = 0; i < want.get(k).length; i++) moved = Math.max(moved, Math.abs(want.get(k)[i] - initial.get(k)[i]));
        assertTrue(moved > 1e-3, "the adapters trained (largest change " + moved + ")");
        for (Map<String, float[]> rank : got) FsdpHarness.assertClose(want, rank, 1e-5, (qlora ? "QLoRA" : "LoRA") + " adapters under FSDP on " + ranks + " ranks");
    }
}
