package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Functional;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.ModuleList;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.TransformerBlock;
import dev.fluxion.optim.AdamW;
import dev.fluxion.optim.Clipping;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.fluxion.parallel.fsdp.FsdpHarness.*;
import static org.junit.jupiter.api.Assertions.*;

/** What real models need from FSDP: frozen parameters, gradient accumulation, clipping, tied weights. */
class FsdpFeaturesTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final int STEPS = 6;

    /** The parameters of m, each once (a tied parameter appears under two names). */
    static List<Parameter> unique(Module m) {
        Set<Parameter> seen = Collections.newSetFromMap(new IdentityHashMap<>());
        List<Parameter> out = new ArrayList<>();
        for (Parameter p : m.parameters()) if (seen.add(p)) out.add(p);
        return out;
    }

    interface Step { void run(Module model, Tensor[] batch, AdamW opt); }

    static Map<String, float[]> reference(Module m, int ranks, Step step) {
        AdamW opt = new AdamW(unique(m), ADAMW);
        for (int s = 0; s < STEPS; s++)
            try (var scope = Scope.open()) {
                step.run(m, batch(s, ranks), opt);
            }
        return values(m.stateDict());
    }

    interface RankStep { void run(FullyShardedDataParallel fsdp, Tensor[] part, AdamW opt); }

    static List<Map<String, float[]>> distributed(int n, java.util.function.Supplier<Module> model, WrapPolicy policy, RankStep step) throws Exception {
        return LocalCluster.run(n, TIMEOUT, pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(model.get(), pg, policy, FsdpConfig.DEFAULT);
            List<Parameter> trainable = new ArrayList<>();
            for (Parameter p : fsdp.parameters()) if (p.requiresGrad()) trainable.add(p);
            AdamW opt = new AdamW(trainable, ADAMW);
            for (int s = 0; s < STEPS; s++)
                try (var scope = Scope.open()) {
                    step.run(fsdp, part(batch(s, n), pg.rank(), n), opt);
                }
            return values(fsdp.fullStateDict());
        });
    }

    static void plainStep(Module m, Tensor[] b, AdamW opt) {
        Tensor loss = Losses.crossEntropy(m.forward(b[0]), b[1]);
        opt.zeroGrad();
        loss.backward();
        opt.step();
    }

    static Gpt frozenModel() {
        Gpt m = model();
        // a frozen weight in the same unit as trainable ones (LoRA's base), and a frozen root parameter
        m.namedParameters().get("blocks.0.attn.qkv.weight").requiresGrad(false);
        m.namedParameters().get("positions.weight").requiresGrad(false);
        return m;
    }

    @Test void frozenParametersInAUnitWithTrainableOnes() throws Exception {
        Map<String, float[]> initial = values(frozenModel().stateDict());
        Map<String, float[]> want = reference(frozenModel(), 2, FsdpFeaturesTest::plainStep);
        List<Map<String, float[]>> got = distributed(2, FsdpFeaturesTest::frozenModel, WrapPolicy.transformerBlocks(),
                (f, b, opt) -> plainStep(f.module(), b, opt));
        for (int r = 0; r < 2; r++) assertClose(want, got.get(r), 1e-5, "rank " + r);
        assertArrayEquals(initial.get("blocks.0.attn.qkv.weight"), got.get(0).get("blocks.0.attn.qkv.weight"), "frozen stays");
        assertFalse(java.util.Arrays.equals(initial.get("blocks.0.attn.proj.weight"), got.get(0).get("blocks.0.attn.proj.weight")), "trainable moves");
    }

    @Test void gradientAccumulationUnderNoSyncThenOneReduction() throws Exception {
        // two micro-batches per step, each half of every rank's rows; the mean of their losses
        Map<String, float[]> want = reference(model(), 2, (m, b, opt) -> {
            opt.zeroGrad();
            for (int half = 0; half < 2; half++) {
                Tensor[] mb = twoHalves(b, 2, half);
                Losses.crossEntropy(m.forward(mb[0]), mb[1]).mul(0.5).backward();
            }
            opt.step();
        });
        int[] reductions = {0};
        List<Map<String, float[]>> got = distributed(2, FsdpHarness::model, WrapPolicy.transformerBlocks(), (f, b, opt) -> {
            opt.zeroGrad();
            Tensor[] first = part(b, 0, 2), second = part(b, 1, 2);
            try (var off = f.noSync()) {
                Losses.crossEntropy(f.module().forward(first[0]), first[1]).mul(0.5).backward();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
            for (Parameter p : f.parameters()) assertNull(p.grad(), "no reduction under noSync");
            Losses.crossEntropy(f.module().forward(second[0]), second[1]).mul(0.5).backward();
            for (Parameter p : f.parameters()) assertNotNull(p.grad(), "the synchronised backward reduced the sum");
            opt.step();
        });
        for (int r = 0; r < 2; r++) assertClose(want, got.get(r), 1e-5, "rank " + r);
    }

    /** Micro-batch `half` of a step: the same rows every rank's part contributes, so that the union over ranks is the reference's. */
    static Tensor[] twoHalves(Tensor[] global, int ranks, int half) {
        List<Tensor> xs = new ArrayList<>(), ys = new ArrayList<>();
        for (int r = 0; r < ranks; r++) {
            Tensor[] p = part(part(global, r, ranks), half, 2);
            xs.add(p[0]);
            ys.add(p[1]);
        }
        return new Tensor[] {Tensor.cat(xs, 0), Tensor.cat(ys, 0)};
    }

    @Test void clippingUsesTheGlobalNormAcrossShards() throws Exception {
        double max = 0.05;
        List<Double> refNorms = new ArrayList<>();
        Map<String, float[]> want = reference(model(), 2, (m, b, opt) -> {
            Tensor loss = Losses.crossEntropy(m.forward(b[0]), b[1]);
            opt.zeroGrad();
            loss.backward();
            refNorms.add(Clipping.clipGradNorm(unique(m), max).item());
            opt.step();
        });
        List<List<Double>> norms = Collections.synchronizedList(new ArrayList<>());
        List<Map<String, float[]>> got = LocalCluster.run(2, TIMEOUT, pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(model(), pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
            AdamW opt = new AdamW(fsdp.parameters(), ADAMW);
            List<Double> mine = new ArrayList<>();
            for (int s = 0; s < STEPS; s++)
                try (var scope = Scope.open()) {
                    Tensor[] b = part(batch(s, 2), pg.rank(), 2);
                    Tensor loss = Losses.crossEntropy(fsdp.module().forward(b[0]), b[1]);
                    opt.zeroGrad();
                    loss.backward();
                    mine.add(fsdp.clipGradNorm(max));
                    opt.step();
                }
            norms.add(mine);
            return values(fsdp.fullStateDict());
        });
        assertTrue(refNorms.get(0) > max, "the test clips: norm " + refNorms.get(0));
        for (List<Double> mine : norms)
            for (int s = 0; s < STEPS; s++) assertEquals(refNorms.get(s), mine.get(s), 1e-9, "norm at step " + s);
        for (int r = 0; r < 2; r++) assertClose(want, got.get(r), 1e-5, "rank " + r);
    }

    /** A head that holds the embedding's Parameter itself (tied weights); its own unit under the policy below. */
    static final class TiedHead extends Module {
        final Parameter weight;
        TiedHead(Parameter w) { weight = register("weight", w); }
        @Override protected Tensor compute(Tensor x) { return Functional.linear(x, weight, null); }
    }

    /** Embedding -> blocks -> head whose weight is the embedding's (used twice: lookup and projection). */
    static final class TiedLm extends Module {
        final Embedding emb;
        final ModuleList<Module> blocks;
        final TiedHead head;
        TiedLm() {
            Init init = Init.seed(11);
            emb = register("emb", new Embedding(16, 16, init));
            blocks = register("blocks", new ModuleList<>(List.of(new TransformerBlock(16, 2, 0, init), new TransformerBlock(16, 2, 0, init))));
            head = register("head", new TiedHead(emb.weight()));
            to(DType.FLOAT64);
        }
        @Override protected Tensor compute(Tensor ids) {
            Tensor x = emb.forward(ids);
            for (Module b : blocks) x = b.forward(x);
            return head.forward(x);
        }
    }

    @Test void aParameterUsedTwiceAcrossUnitsIsOwnedByTheRootAndGetsBothGradients() throws Exception {
        Map<String, float[]> want = reference(new TiedLm(), 2, FsdpFeaturesTest::plainStep);
        assertTrue(want.containsKey("head.weight") && want.containsKey("emb.weight"));
        WrapPolicy policy = WrapPolicy.byClass(TransformerBlock.class, Embedding.class, TiedHead.class);
        List<Map<String, float[]>> got = LocalCluster.run(2, TIMEOUT, pg -> {
            var fsdp = FullyShardedDataParallel.fullyShard(new TiedLm(), pg, policy, FsdpConfig.DEFAULT);
            // emb and head hold the same weight, so it belongs to the root; neither is a unit of its own
            assertEquals(List.of("", "blocks.0", "blocks.1"), fsdp.unitPaths());
            assertEquals(8, fsdp.namedParameters().get("emb.weight").size(0), "the tied weight has one shard: half its rows");
            assertFalse(fsdp.namedParameters().containsKey("head.weight"), "and no second one");
            AdamW opt = new AdamW(fsdp.parameters(), ADAMW);
            for (int s = 0; s < STEPS; s++)
                try (var scope = Scope.open()) {
                    plainStep(fsdp.module(), part(batch(s, 2), pg.rank(), 2), opt);
                }
            return values(fsdp.fullStateDict());
        });
        for (int r = 0; r < 2; r++) assertClose(want, got.get(r), 1e-5, "rank " + r);
    }

    @Test void aTrainableParameterWithoutGradientIsNamed() throws Exception {
        var outcomes = LocalCluster.runAll(2, TIMEOUT, pg -> {
            var m = new WithUnused(Init.seed(3));
            var fsdp = FullyShardedDataParallel.fullyShard(m, pg, WrapPolicy.byClass(dev.fluxion.nn.Linear.class), FsdpConfig.DEFAULT);
            Tensor y = m.forward(Tensor.ones(3, 4));
            var e = assertThrows(IllegalStateException.class, () -> y.sum().backward());
            return e.getMessage();
        });
        for (var o : outcomes) {
            if (o.error() != null) throw new AssertionError(o.error());
            assertTrue(o.value().contains("unused.weight [2, 4]") && o.value().contains("unused.bias [2]"), o.value());
            assertFalse(o.value().contains("'used"), o.value());
        }
    }

    /** A model with a layer its forward never uses. */
    static final class WithUnused extends Module {
        final dev.fluxion.nn.Linear used, unused;
        WithUnused(Init init) {
            used = register("used", new dev.fluxion.nn.Linear(4, 2, true, init));
            unused = register("unused", new dev.fluxion.nn.Linear(4, 2, true, init));
        }
        @Override protected Tensor compute(Tensor x) { return used.forward(x); }
    }
}
