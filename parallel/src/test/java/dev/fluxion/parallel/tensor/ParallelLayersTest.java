package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Embedding;
import dev.fluxion.nn.Init;
import dev.fluxion.nn.Linear;
import dev.fluxion.nn.Losses;
import dev.fluxion.parallel.LocalCluster;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.time.Duration;

import static dev.fluxion.parallel.tensor.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** Column-, row- and vocab-parallel layers and the vocab-parallel cross-entropy on n thread-ranks against single-process. */
class ParallelLayersTest {
    static final Duration TIMEOUT = Duration.ofSeconds(30);
    static final double TOL = 1e-5;

    /** Megatron's MLP block (column-parallel, GELU, row-parallel): output, input gradient and weight gradients. */
    @ParameterizedTest @ValueSource(ints = {2, 4})
    void columnThenRowEqualsSingleProcess(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            Init init = Init.seed(11);
            Linear fc1 = new Linear(8, 16, true, init), fc2 = new Linear(16, 8, true, init);
            Tensor x = Tensor.randn(new Generator(3), 2, 4, 8).requiresGrad(true);
            Tensor w = Tensor.randn(new Generator(4), 2, 4, 8);                        // a loss that weighs every output differently
            Tensor y = fc2.forward(fc1.forward(x).gelu());
            y.mul(w).sum().backward();

            var col = ColumnParallelLinear.of(fc1, pg, false, false);
            var row = RowParallelLinear.of(fc2, pg, false);
            Tensor x2 = x.detach().copy().requiresGrad(true);
            Tensor hidden = col.forward(x2);
            assertEquals(16 / n, hidden.size(2), "column-parallel output keeps out/n features");
            Tensor y2 = row.forward(hidden.gelu());
            y2.mul(w).sum().backward();

            int r = pg.rank();
            assertClose(y, y2, TOL, "rank " + r + " output");
            assertClose(x.grad(), x2.grad(), TOL, "rank " + r + " input gradient (all-reduced by f)");
            assertClose(Shard.along(0).slice(fc1.weight().grad(), r, n), col.weight().grad(), TOL, "rank " + r + " column weight gradient");
            assertClose(Shard.along(0).slice(fc1.bias().grad(), r, n), col.bias().grad(), TOL, "rank " + r + " column bias gradient");
            assertClose(Shard.along(1).slice(fc2.weight().grad(), r, n), row.weight().grad(), TOL, "rank " + r + " row weight gradient");
            assertClose(fc2.bias().grad(), row.bias().grad(), TOL, "rank " + r + " row bias gradient (added once, after the reduction)");
            return null;
        });
    }

    @ParameterizedTest @ValueSource(ints = {2, 4})
    void gatheredColumnOutputAndScatteredRowInputEqualSingleProcess(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            Init init = Init.seed(12);
            Linear fc = new Linear(6, 8, true, init), back = new Linear(8, 4, false, init);
            Tensor x = Tensor.randn(new Generator(5), 3, 6).requiresGrad(true);
            Tensor y = back.forward(fc.forward(x));
            y.sum().backward();

            var col = ColumnParallelLinear.of(fc, pg, true, false);
            var row = new RowParallelLinear(back.weight(), null, pg, false, false);     // splits its full input itself
            Tensor x2 = x.detach().copy().requiresGrad(true);
            Tensor full = col.forward(x2);
            assertEquals(8, full.size(1), "gatherOutput returns every feature");
            Tensor y2 = row.forward(full);
            y2.sum().backward();
            assertClose(y, y2, TOL, "output");
            assertClose(x.grad(), x2.grad(), TOL, "input gradient");
            assertClose(Shard.along(0).slice(fc.weight().grad(), pg.rank(), n), col.weight().grad(), TOL, "column weight gradient");
            return null;
        });
    }

    @ParameterizedTest @ValueSource(ints = {2, 4})
    void vocabParallelEmbeddingEqualsEmbedding(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            Embedding e = new Embedding(16, 6, Init.seed(13));
            Tensor ids = Tensor.of(new long[] {0, 3, 15, 4, 8, 3, 12, 7}, 2, 4);
            Tensor w = Tensor.randn(new Generator(6), 2, 4, 6);
            Tensor y = e.forward(ids);
            y.mul(w).sum().backward();
            var vp = VocabParallelEmbedding.of(e, pg, false);
            Tensor y2 = vp.forward(ids);
            y2.mul(w).sum().backward();
            assertClose(y, y2, TOL, "rows");
            assertClose(Shard.along(0).slice(e.weight().grad(), pg.rank(), n), vp.weight().grad(), TOL, "weight gradient of this rank's vocabulary");
            // sequence parallel: the sum is reduce-scattered, each rank keeps its positions; the gradient is unchanged
            var sp = VocabParallelEmbedding.of(e, pg, true);
            int block = 4 / n, r = pg.rank();
            Tensor y3 = sp.forward(ids);
            y3.mul(w.narrow(1, r * block, block)).sum().backward();
            assertClose(y.narrow(1, r * block, block), y3, TOL, "this rank's positions");
            // the reduce-scatter's backward all-gathers the output gradient, so every rank sees every position's
            assertClose(Shard.along(0).slice(e.weight().grad(), r, n), sp.weight().grad(), TOL, "sequence-parallel weight gradient");
            return null;
        });
    }

    /** The loss and the logits' gradient equal the plain cross-entropy's, with an ignored target; no rank sees all logits. */
    @ParameterizedTest @ValueSource(ints = {2, 4})
    void vocabParallelCrossEntropyEqualsCrossEntropy(int n) throws Exception {
        LocalCluster.run(n, TIMEOUT, pg -> {
            Tensor logits = Tensor.randn(new Generator(7), 2, 5, 16).mul(3).requiresGrad(true);
            Tensor targets = Tensor.of(new long[] {0, 15, 7, Losses.IGNORE_INDEX, 8, 3, 12, 4, 11, 1}, 2, 5);
            Tensor loss = Losses.crossEntropy(logits, targets);
            loss.backward();
            int r = pg.rank(), part = 16 / n;
            Tensor local = logits.detach().narrow(2, r * part, part).copy().requiresGrad(true);
            Tensor loss2 = VocabParallelCrossEntropy.apply(local, targets, pg);
            loss2.backward();
            assertClose(loss, loss2, TOL, "rank " + r + " loss");
            assertClose(logits.grad().narrow(2, r * part, part), local.grad(), TOL, "rank " + r + " logits gradient");
            return null;
        });
    }
}
