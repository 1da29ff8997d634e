package dev.fluxion.nn.data;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.IntStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DataLoaderTest {

    /** x row i = [i, 10 i], y i = i: a batch tells which samples it holds. */
    private static TensorDataset numbered(int n) {
        float[] x = new float[2 * n];
        long[] y = new long[n];
        for (int i = 0; i < n; i++) { x[2 * i] = i; x[2 * i + 1] = 10 * i; y[i] = i; }
        return new TensorDataset(Tensor.of(x, n, 2), Tensor.of(y, n));
    }

    private static List<long[]> epoch(DataLoader<List<Tensor>, List<Tensor>> loader) {
        List<long[]> out = new ArrayList<>();
        for (List<Tensor> b : loader) out.add(b.get(1).toLongArray());
        return out;
    }

    private static long[] flat(List<long[]> batches) {
        return batches.stream().flatMapToLong(Arrays::stream).toArray();
    }

    @Test void tensorDatasetIndexesTheFirstDimensionAndRefusesMismatches() {
        TensorDataset ds = numbered(5);
        assertEquals(5, ds.size());
        List<Tensor> s = ds.get(3);
        assertArrayEquals(new int[] {2}, s.get(0).shape());
        assertArrayEquals(new float[] {3, 30}, s.get(0).toFloatArray());
        assertEquals(3, s.get(1).toLongArray()[0]);
        var e = assertThrows(IllegalArgumentException.class, () -> new TensorDataset(Tensor.zeros(4, 2), Tensor.zeros(3)));
        assertEquals("TensorDataset: size mismatch between tensors: first dimensions must be equal, got shapes [4, 2], [3]", e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> ds.get(5));
    }

    @Test void batchesInOrderWithTheLastPartialOrDropped() {
        var loader = DataLoader.tuples(numbered(7), DataLoader.Options.DEFAULT.withBatchSize(3));
        assertEquals(3, loader.size());
        List<long[]> b = epoch(loader);
        assertEquals(3, b.size());
        assertArrayEquals(new long[] {6}, b.get(2));
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5, 6}, flat(b));
        List<Tensor> first = loader.iterator().next();
        assertArrayEquals(new int[] {3, 2}, first.get(0).shape());     // stacked: (B, 2) and (B)
        assertArrayEquals(new float[] {0, 0, 1, 10, 2, 20}, first.get(0).toFloatArray());

        var dropping = DataLoader.tuples(numbered(7), DataLoader.Options.DEFAULT.withBatchSize(3).withDropLast(true));
        assertEquals(2, dropping.size());
        assertArrayEquals(new long[] {0, 1, 2, 3, 4, 5}, flat(epoch(dropping)));
    }

    @Test void shufflingIsSeededAndEachEpochIsANewPermutation() {
        var opts = DataLoader.Options.DEFAULT.withBatchSize(4).withShuffle(true, 42);
        var a = DataLoader.tuples(numbered(20), opts);
        var b = DataLoader.tuples(numbered(20), opts);
        long[] a0 = flat(epoch(a)), a1 = flat(epoch(a));
        assertArrayEquals(a0, flat(epoch(b)), "same seed, same first epoch");
        assertArrayEquals(a1, flat(epoch(b)), "same seed, same second epoch");
        assertFalse(Arrays.equals(a0, a1), "each epoch a new permutation");
        assertFalse(Arrays.equals(a0, IntStream.range(0, 20).asLongStream().toArray()), "shuffled");
        long[] sorted = a0.clone();
        Arrays.sort(sorted);
        assertArrayEquals(IntStream.range(0, 20).asLongStream().toArray(), sorted, "a permutation");
        assertFalse(Arrays.equals(a0, flat(epoch(DataLoader.tuples(numbered(20), opts.withShuffle(true, 43))))));
    }

    @Test void withoutASeedShufflingDrawsFromTheGlobalGenerator() {
        var opts = DataLoader.Options.DEFAULT.withBatchSize(5).withShuffle(true);
        Generator.manualSeed(123);
        long[] a = flat(epoch(DataLoader.tuples(numbered(20), opts)));
        Generator.manualSeed(123);
        long[] b = flat(epoch(DataLoader.tuples(numbered(20), opts)));
        assertArrayEquals(a, b, "manualSeed makes the order reproducible");
        assertFalse(Arrays.equals(a, IntStream.range(0, 20).asLongStream().toArray()));
    }

    @Test void workersPrefetchAndKeepTheOrder() {
        Set<String> threads = ConcurrentHashMap.newKeySet();
        Dataset<Tensor> slow = Dataset.of(40, i -> {
            threads.add(Thread.currentThread().getName());
            try { Thread.sleep(ThreadLocalRandom.current().nextInt(3)); } catch (InterruptedException e) { throw new RuntimeException(e); }
            return Tensor.of(new float[] {i});
        });
        var opts = DataLoader.Options.DEFAULT.withBatchSize(3).withShuffle(true, 5);
        List<float[]> serial = new ArrayList<>(), parallel = new ArrayList<>();
        for (Tensor t : DataLoader.tensors(slow, opts)) serial.add(t.toFloatArray());
        threads.clear();
        for (Tensor t : DataLoader.tensors(slow, opts.withNumWorkers(3).withPrefetchFactor(2))) parallel.add(t.toFloatArray());
        assertEquals(serial.size(), parallel.size());
        for (int k = 0; k < serial.size(); k++) assertArrayEquals(serial.get(k), parallel.get(k), "batch " + k);
        assertTrue(threads.stream().allMatch(n -> n.contains("worker")), "samples read on worker threads: " + threads);
        assertTrue(threads.size() > 1, "several workers: " + threads);
    }

    @Test void aWorkersFailureIsRethrownWithTheIndexAndStopsTheWorkers() {
        Dataset<Tensor> broken = Dataset.of(20, i -> {
            if (i == 13) throw new IllegalStateException("corrupt record");
            return Tensor.of(new float[] {i});
        });
        var loader = DataLoader.tensors(broken, DataLoader.Options.DEFAULT.withBatchSize(4).withNumWorkers(2));
        var it = (LoaderIterator<Tensor>) loader.iterator();
        it.next();
        it.next();
        it.next();
        var e = assertThrows(DataLoaderException.class, it::next);
        assertEquals(3, e.batch());
        assertEquals(13, e.index());
        assertInstanceOf(IllegalStateException.class, e.getCause());
        assertTrue(e.getMessage().startsWith("DataLoader: dataset.get(13) failed for batch 3 (dataset indices [12, 13, 14, 15]) on thread fluxion-data-"),
                e.getMessage());
        assertTrue(e.getMessage().endsWith(": java.lang.IllegalStateException: corrupt record"), e.getMessage());
        assertTrue(it.terminated(), "workers stopped");
        assertFalse(it.hasNext());

        // the same error without workers, and from collate
        var serial = assertThrows(DataLoaderException.class, () -> DataLoader.tensors(broken, DataLoader.Options.DEFAULT.withBatchSize(4)).forEach(t -> { }));
        assertEquals(13, serial.index());
        Dataset<Tensor> ragged = Dataset.of(4, i -> Tensor.zeros(1 + i % 2));
        var c = assertThrows(DataLoaderException.class, () -> DataLoader.tensors(ragged, DataLoader.Options.DEFAULT.withBatchSize(2).withNumWorkers(1)).forEach(t -> { }));
        assertEquals(-1, c.index());
        assertTrue(c.getMessage().contains("collate failed for batch 0 (dataset indices [0, 1])"), c.getMessage());
        assertTrue(c.getCause().getMessage().startsWith("Collate.stack: samples of one batch must have equal shapes"), c.getCause().getMessage());
    }

    @Test void closingAnAbandonedEpochStopsTheWorkersAndFreesUntakenBatches() throws InterruptedException {
        List<Tensor> made = new CopyOnWriteArrayList<>();
        var loader = DataLoader.of(Dataset.of(100, i -> Tensor.of(new float[] {i})), DataLoader.Options.DEFAULT.withBatchSize(2).withNumWorkers(2)
                .withPrefetchFactor(3), samples -> {
            Tensor b = Collate.stack().apply(samples);
            made.add(b);
            return b;
        });
        Tensor taken;
        LoaderIterator<Tensor> it;
        try (var batches = loader.iterator()) {
            it = (LoaderIterator<Tensor>) batches;
            taken = batches.next();
            for (int wait = 0; wait < 200 && made.size() < 6; wait++) Thread.sleep(5);   // let the workers fill the prefetch queue
        }
        assertTrue(it.terminated());
        assertEquals(0, it.liveWorkers());
        assertTrue(made.size() >= 2 && made.size() <= 7, "at most workers * prefetch batches ahead (+1 taken): " + made.size());
        assertFalse(taken.isClosed(), "the batch handed out is the caller's");
        for (Tensor t : made) if (t != taken) assertTrue(t.isClosed(), "an untaken batch is freed");
    }

    @Test void aWorkersBatchBelongsToTheCallersScopeButTheDatasetsOwnTensorsDoNot() {
        List<Tensor> stored = new ArrayList<>();
        for (int i = 0; i < 4; i++) stored.add(Tensor.of(new float[] {i}));
        // batch size 1, collate returns the sample itself: a tensor the dataset owns, not made by the worker
        var own = DataLoader.of(Dataset.of(4, stored::get), DataLoader.Options.DEFAULT.withNumWorkers(2), l -> l.get(0));
        var fresh = DataLoader.tensors(Dataset.of(4, stored::get), DataLoader.Options.DEFAULT.withBatchSize(2).withNumWorkers(2));
        Tensor ownBatch, freshBatch;
        try (var batches = own.iterator(); var more = fresh.iterator(); var scope = Scope.open()) {
            ownBatch = batches.next();
            freshBatch = more.next();
            assertArrayEquals(new float[] {0, 1}, freshBatch.toFloatArray());
        }
        assertSame(stored.get(0), ownBatch);
        assertFalse(ownBatch.isClosed(), "the dataset's tensor survives the caller's scope");
        assertTrue(freshBatch.isClosed(), "the stacked batch was adopted by the caller's scope");
    }

    @Test void iterableDatasetsBatchInStreamOrder() {
        IterableDataset<Integer> stream = () -> IntStream.range(0, 11).boxed().iterator();
        for (int workers : new int[] {0, 3}) {
            var loader = DataLoader.of(stream, DataLoader.Options.DEFAULT.withBatchSize(4).withNumWorkers(workers), List::copyOf);
            List<List<Integer>> batches = new ArrayList<>();
            loader.forEach(batches::add);
            assertEquals(List.of(List.of(0, 1, 2, 3), List.of(4, 5, 6, 7), List.of(8, 9, 10)), batches, workers + " workers");
            List<List<Integer>> dropped = new ArrayList<>();
            DataLoader.of(stream, DataLoader.Options.DEFAULT.withBatchSize(4).withNumWorkers(workers).withDropLast(true), List::copyOf).forEach(dropped::add);
            assertEquals(2, dropped.size());
        }
        var e = assertThrows(IllegalArgumentException.class,
                () -> DataLoader.of(stream, DataLoader.Options.DEFAULT.withShuffle(true, 1), List::copyOf));
        assertEquals("DataLoader: an IterableDataset is read in its own order; shuffle and sampler are not allowed", e.getMessage());
        assertThrows(UnsupportedOperationException.class, () -> DataLoader.of(stream, DataLoader.Options.DEFAULT, List::copyOf).size());
    }

    @Test void optionsAreChecked() {
        var e = assertThrows(IllegalArgumentException.class, () -> DataLoader.Options.DEFAULT.withBatchSize(0));
        assertEquals("DataLoader.Options: batchSize must be >= 1, got 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DataLoader.Options.DEFAULT.withSampler(Sampler.sequential(3)).withShuffle(true, 1));
        assertEquals("DataLoader.Options: a sampler and shuffle exclude each other (shuffle in the sampler instead)", e.getMessage());
        assertNotEquals(DataLoader.Options.DEFAULT, DataLoader.Options.DEFAULT.withNumWorkers(1));
    }
}
