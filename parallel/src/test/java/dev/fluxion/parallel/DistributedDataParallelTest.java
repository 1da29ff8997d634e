package dev.fluxion.parallel;

import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Sequential;
import dev.fluxion.nn.Tanh;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

/** DDP on N thread-ranks against one process training on the concatenated batch. */
class DistributedDataParallelTest {
    static final Duration TIMEOUT = Duration.ofSeconds(20);
    static final int B = 4, STEPS = 10;
    static final DistributedDataParallel.Config SMALL_BUCKETS = DistributedDataParallel.Config.DEFAULT.withFirstBucketBytes(64).withBucketCapBytes(400);

    static Module model(long seed) {
        Init init = Init.seed(seed);
        return new Sequential(new Linear(6, 16, true, init), new Tanh(), new Linear(16, 8, true, init), new Tanh(), new Linear(8, 3, true, init));
    }

    /** The global batch of a step: n*B rows; rank r trains on rows [r*B, (r+1)*B). */
    static Tensor[] batch(int step, int n) {
        Generator g = new Generator(1000 + step);
        return new Tensor[] {Tensor.randn(g, n * B, 6), Tensor.randn(g, n * B, 3)};
    }

    static SGD sgd(List<? extends Tensor> params) {
        return new SGD(new ArrayList<>(params), SGD.Config.DEFAULT.withLr(0.1).withMomentum(0.9));
    }

    static List<float[]> values(Module m) {
        List<float[]> out = new ArrayList<>();
        for (var p : m.parameters()) out.add(p.toFloatArray());
        return out;
    }

    static List<float[]> singleProcess(int n) {
        Module m = model(1);
        SGD opt = sgd(m.parameters());
        for (int step = 0; step < STEPS; step++) {
            try (var s = Scope.open()) {
                Tensor[] b = batch(step, n);
                Tensor loss = Losses.mse(m.forward(b[0]), b[1]);
                opt.zeroGrad();
                loss.backward();
                opt.step();
            }
        }
        return values(m);
    }

    static void assertClose(List<float[]> want, List<float[]> got, String what) {
        assertEquals(want.size(), got.size());
        for (int i = 0; i < want.size(); i++)
            for (int k = 0; k < want.get(i).length; k++)
                assertEquals(want.get(i)[k], got.get(i)[k], 1e-5, what + ": parameter " + i + " element " + k);
    }

    @ParameterizedTest(name = "{0} ranks")
    @ValueSource(ints = {2, 3})
    void equalsSingleProcessTrainingOnTheConcatenatedBatch(int n) throws Exception {
        List<float[]> want = singleProcess(n);
        List<List<float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            Module m = model(1 + pg.rank());   // different on purpose: wrapping broadcasts rank 0's parameters
            var ddp = new DistributedDataParallel(m, pg, SMALL_BUCKETS);
            assertTrue(ddp.bucketCount() > 2, "several buckets: " + ddp.bucketCount());
            SGD opt = sgd(ddp.parameters());
            for (int step = 0; step < STEPS; step++) {
                try (var s = Scope.open()) {
                    Tensor[] b = batch(step, n);
                    Tensor x = b[0].narrow(0, pg.rank() * B, B), y = b[1].narrow(0, pg.rank() * B, B);
                    Tensor loss = Losses.mse(ddp.forward(x), y);
                    opt.zeroGrad();
                    loss.backward();
                    opt.step();
                }
            }
            return values(m);
        });
        for (int r = 0; r < n; r++) assertClose(want, got.get(r), "rank " + r);
    }

    @Test void noSyncAccumulatesLocallyAndTheNextBackwardAveragesTheSum() throws Exception {
        int n = 2;
        // reference: one process, the mean of two micro-batches' mean losses over both ranks' rows
        Module ref = model(1);
        SGD refOpt = sgd(ref.parameters());
        Tensor[] b1 = batch(0, n), b2 = batch(1, n);
        refOpt.zeroGrad();
        Losses.mse(ref.forward(b1[0]), b1[1]).mul(0.5).backward();
        Losses.mse(ref.forward(b2[0]), b2[1]).mul(0.5).backward();
        refOpt.step();
        List<float[]> want = values(ref);
        List<List<float[]>> got = LocalCluster.run(n, TIMEOUT, pg -> {
            Module m = model(1);
            var ddp = new DistributedDataParallel(m, pg, SMALL_BUCKETS);
            SGD opt = sgd(ddp.parameters());
            int r = pg.rank();
            opt.zeroGrad();
            try (var off = ddp.noSync()) {
                Losses.mse(ddp.forward(b1[0].narrow(0, r * B, B)), b1[1].narrow(0, r * B, B)).mul(0.5).backward();
            }
            Losses.mse(ddp.forward(b2[0].narrow(0, r * B, B)), b2[1].narrow(0, r * B, B)).mul(0.5).backward();
            opt.step();
            return values(m);
        });
        for (int r = 0; r < n; r++) assertClose(want, got.get(r), "rank " + r);
    }

    /** Passes everything to a real group, running a check each time an all-reduce is started. */
    record Watching(ProcessGroup pg, Runnable onAllReduce) implements ProcessGroup {
        @Override public int rank() { return pg.rank(); }
        @Override public int size() { return pg.size(); }
        @Override public int globalRank(int r) { return pg.globalRank(r); }
        @Override public Duration timeout() { return pg.timeout(); }
        @Override public Work allReduce(Tensor t, ReduceOp op) { onAllReduce.run(); return pg.allReduce(t, op); }
        @Override public Work broadcast(Tensor t, int root) { return pg.broadcast(t, root); }
        @Override public Work allGather(Tensor o, Tensor i) { return pg.allGather(o, i); }
        @Override public Work reduceScatter(Tensor o, Tensor i, ReduceOp op) { return pg.reduceScatter(o, i, op); }
        @Override public Work send(Tensor t, int p) { return pg.send(t, p); }
        @Override public Work recv(Tensor t, int p) { return pg.recv(t, p); }
        @Override public Work sendRecv(Tensor s, int sp, Tensor r, int rp) { return pg.sendRecv(s, sp, r, rp); }
        @Override public Work barrier() { return pg.barrier(); }
        @Override public ProcessGroup newGroup(int... ranks) { return pg.newGroup(ranks); }
        @Override public void close() { pg.close(); }
        @Override public void abort() { pg.abort(); }
    }

    @Test void theFirstBucketIsSentWhileBackwardStillComputesTheFirstLayer() throws Exception {
        LocalCluster.run(2, TIMEOUT, pg -> {
            Module m = model(1);
            var firstLayer = m.parameters().get(0);   // its gradient is the last one backward produces
            List<Boolean> firstLayerDone = new ArrayList<>();
            var ddp = new DistributedDataParallel(m, new Watching(pg, () -> firstLayerDone.add(firstLayer.grad() != null)), SMALL_BUCKETS);
            Tensor[] b = batch(0, 2);
            Losses.mse(ddp.forward(b[0].narrow(0, pg.rank() * B, B)), b[1].narrow(0, pg.rank() * B, B)).backward();
            assertEquals(ddp.bucketCount(), firstLayerDone.size(), "one all-reduce per bucket");
            assertFalse(firstLayerDone.get(0), "the first bucket's all-reduce started before backward reached the first layer");
            assertNotNull(firstLayer.grad(), "after backward every gradient is there, averaged");
            return null;
        });
    }

    /** A model with a layer its forward never uses. */
    static final class WithUnused extends Module {
        final Linear used, unused;
        WithUnused(Init init) {
            used = register("used", new Linear(4, 2, true, init));
            unused = register("unused", new Linear(4, 2, true, init));
        }
        @Override protected Tensor compute(Tensor x) { return used.forward(x); }
    }

    @Test void parametersWithoutGradientsAreNamed() throws Exception {
        LocalCluster.run(2, TIMEOUT, pg -> {
            var ddp = new DistributedDataParallel(new WithUnused(Init.seed(3)), pg);
            Tensor x = Tensor.ones(3, 4);
            ddp.forward(x).sum().backward();
            var e = assertThrows(IllegalStateException.class, ddp::finish);
            assertTrue(e.getMessage().contains("unused.weight [2, 4]") && e.getMessage().contains("unused.bias [2]"), e.getMessage());
            assertFalse(e.getMessage().contains("used.weight [2, 4], "), e.getMessage());
            var again = assertThrows(IllegalStateException.class, () -> ddp.forward(x));
            assertTrue(again.getMessage().contains("unused.weight"), again.getMessage());
            return null;
        });
    }
}
