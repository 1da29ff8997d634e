package dev.fluxion.nn.data;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.function.Function;

/**
 * Batches of a dataset, as torch.utils.data.DataLoader: samples in the sampler's order (sequential, or a new
 * seeded permutation each epoch with {@code shuffle}), {@code batchSize} at a time (the last one smaller
 * unless {@code dropLast}), turned into a batch by a collate function, and with {@code numWorkers > 0} made
 * ahead on worker threads (up to numWorkers * prefetchFactor batches in flight), delivered in order.
 *
 * <pre>{@code
 * var loader = DataLoader.tuples(new TensorDataset(x, y),
 *         DataLoader.Options.DEFAULT.withBatchSize(64).withShuffle(true, 42).withNumWorkers(2));
 * for (int epoch = 0; epoch < 10; epoch++) {
 *     try (var batches = loader.iterator()) {                 // closing stops the workers if the loop breaks early
 *         while (batches.hasNext()) {
 *             try (var scope = Scope.open()) {                // the batch belongs to this step's scope
 *                 List<Tensor> b = batches.next();
 *                 Tensor loss = Losses.mse(model.forward(b.get(0)), b.get(1));
 *                 ...
 *             }
 *         }
 *     }
 * }
 * }</pre>
 *
 * <p>Each {@link #iterator()} is one epoch. A for-each loop works too; an iterator abandoned without
 * {@code close()} has its workers stopped when it is garbage collected, and idle workers exit after a few
 * seconds regardless. Tensors: a batch made on a worker is adopted by the innermost {@code Scope} open on the
 * thread that calls {@code next()} (untracked without one), and the worker's temporaries (the samples) are
 * freed as soon as the batch is made. A worker's failure is rethrown by {@code next()}/{@code hasNext()} as a
 * {@link DataLoaderException} naming the batch and dataset index; the iterator is closed then.
 *
 * @param <T> sample type
 * @param <B> batch type
 */
public final class DataLoader<T, B> implements Iterable<B> {

    /**
     * Loader settings; {@link #DEFAULT} is torch's: batch 1, no shuffle, keep the last partial batch, no workers,
     * prefetch factor 2. {@code seed} null shuffles from the global generator. A {@code sampler} (null for the
     * default) replaces shuffle, as in torch.
     */
    public record Options(int batchSize, boolean shuffle, Long seed, boolean dropLast, int numWorkers, int prefetchFactor, Sampler sampler) {
        /** torch's defaults: batch 1, no shuffle, no workers, prefetch factor 2, the default sampler. */
        public static final Options DEFAULT = new Options(1, false, null, false, 0, 2, null);

        /** Checks the settings; an error names the setting and its value. */
        public Options {
            if (batchSize < 1) throw new IllegalArgumentException("DataLoader.Options: batchSize must be >= 1, got " + batchSize);
            if (numWorkers < 0) throw new IllegalArgumentException("DataLoader.Options: numWorkers must be >= 0, got " + numWorkers);
            if (prefetchFactor < 1) throw new IllegalArgumentException("DataLoader.Options: prefetchFactor must be >= 1, got " + prefetchFactor);
            if (sampler != null && shuffle)
                throw new IllegalArgumentException("DataLoader.Options: a sampler and shuffle exclude each other (shuffle in the sampler instead)");
        }

        /** These options with batchSize replaced. */
        public Options withBatchSize(int v) { return new Options(v, shuffle, seed, dropLast, numWorkers, prefetchFactor, sampler); }
        /**
         * Shuffle each epoch with a permutation drawn from a generator of its own seeded once with {@code s}: the
         * same seed gives the same sequence of epochs, whatever else draws random numbers.
         */
        public Options withShuffle(boolean v, long s) { return new Options(batchSize, v, s, dropLast, numWorkers, prefetchFactor, sampler); }
        /** Shuffle each epoch with a permutation drawn from the global generator (seeded by {@code Generator.manualSeed}, as torch). */
        public Options withShuffle(boolean v) { return new Options(batchSize, v, null, dropLast, numWorkers, prefetchFactor, sampler); }

        /** These options with dropLast replaced. */
        public Options withDropLast(boolean v) { return new Options(batchSize, shuffle, seed, v, numWorkers, prefetchFactor, sampler); }
        /** These options with numWorkers (0: batches are made on the calling thread) replaced. */
        public Options withNumWorkers(int v) { return new Options(batchSize, shuffle, seed, dropLast, v, prefetchFactor, sampler); }
        /** These options with prefetchFactor (batches in flight per worker) replaced. */
        public Options withPrefetchFactor(int v) { return new Options(batchSize, shuffle, seed, dropLast, numWorkers, v, sampler); }
        /** These options with sampler (null: the default) replaced. */
        public Options withSampler(Sampler v) { return new Options(batchSize, shuffle, seed, dropLast, numWorkers, prefetchFactor, v); }
    }

    /** One epoch's batches; {@link #close()} stops its workers and frees batches made but not taken. */
    public interface Batches<B> extends Iterator<B>, AutoCloseable {
        /** Stops the workers and frees batches made but not taken; the iteration ends. */
        @Override void close();
    }

    private final Dataset<T> dataset;             // null for a stream
    private final IterableDataset<T> stream;      // null for an indexed dataset
    private final Options options;
    private final Function<List<T>, B> collate;
    private final Sampler sampler;

    private DataLoader(Dataset<T> dataset, IterableDataset<T> stream, Options options, Function<List<T>, B> collate) {
        this.dataset = dataset;
        this.stream = stream;
        this.options = Objects.requireNonNull(options, "DataLoader: options is null");
        this.collate = Objects.requireNonNull(collate, "DataLoader: collate is null");
        if (dataset != null) {
            // the random sampler is made once, so each epoch draws the next permutation from the same seeded generator
            sampler = options.sampler != null ? options.sampler
                    : !options.shuffle ? Sampler.sequential(dataset.size())
                    : options.seed == null ? Sampler.random(dataset.size(), Generator.global()) : Sampler.random(dataset.size(), options.seed);
        } else {
            if (options.shuffle || options.sampler != null)
                throw new IllegalArgumentException("DataLoader: an IterableDataset is read in its own order; shuffle and sampler are not allowed");
            sampler = null;
        }
    }

    /** A loader of any sample and batch types with the given collate function. */
    public static <T, B> DataLoader<T, B> of(Dataset<T> dataset, Options options, Function<List<T>, B> collate) {
        return new DataLoader<>(Objects.requireNonNull(dataset, "DataLoader: dataset is null"), null, options, collate);
    }

    /** A loader of tensor samples, batched by stacking them: samples of shape S give batches (B, S...). */
    public static DataLoader<Tensor, Tensor> tensors(Dataset<Tensor> dataset, Options options) { return of(dataset, options, Collate.stack()); }

    /** A loader of tuples of tensors ({@link TensorDataset}'s samples), batched by stacking each position. */
    public static DataLoader<List<Tensor>, List<Tensor>> tuples(Dataset<List<Tensor>> dataset, Options options) {
        return of(dataset, options, Collate.tuples());
    }

    /** A loader of a stream: batches in the stream's order; with workers, one worker reads the stream ahead. */
    public static <T, B> DataLoader<T, B> of(IterableDataset<T> stream, Options options, Function<List<T>, B> collate) {
        return new DataLoader<>(null, Objects.requireNonNull(stream, "DataLoader: stream is null"), options, collate);
    }

    /** The settings. */
    public Options options() { return options; }

    /** The sampler in use (null for a stream). */
    public Sampler sampler() { return sampler; }

    /**
     * Batches per epoch, as torch's len(loader): ceil(n / batchSize), or floor with dropLast, where n is the
     * dataset size or a DistributedSampler's numSamples. Refused for a stream and for other custom samplers.
     */
    public int size() {
        int n;
        if (dataset == null) throw new UnsupportedOperationException("DataLoader.size: a stream (IterableDataset) has no length");
        if (options.sampler == null) n = dataset.size();
        else if (options.sampler instanceof DistributedSampler d) n = d.numSamples();
        else throw new UnsupportedOperationException("DataLoader.size: the length of a custom sampler's epoch is unknown before it runs");
        return options.dropLast ? n / options.batchSize : (n + options.batchSize - 1) / options.batchSize;
    }

    /** Starts an epoch: a new permutation when shuffling, and worker threads when numWorkers > 0. */
    @Override public Batches<B> iterator() {
        if (dataset != null) return new LoaderIterator<>(indexedPlan(sampler.indices()), options.numWorkers, options.numWorkers * options.prefetchFactor);
        // a stream is read in order, so one thread reads it however many workers were asked for
        return new LoaderIterator<>(streamPlan(stream.iterator()), Math.min(1, options.numWorkers), options.numWorkers * options.prefetchFactor);
    }

    /** Batch b of an indexed dataset: get each index on the worker, then collate. */
    private LoaderIterator.Plan indexedPlan(int[] order) {
        int bs = options.batchSize;
        int batches = options.dropLast ? order.length / bs : (order.length + bs - 1) / bs;
        return new LoaderIterator.Plan() {
            int next;

            @Override public LoaderIterator.Work next() {
                if (next >= batches) return null;
                int b = next++;
                int[] idx = Arrays.copyOfRange(order, b * bs, Math.min(order.length, (b + 1) * bs));
                return () -> {
                    List<T> samples = new ArrayList<>(idx.length);
                    for (int i : idx) {
                        try {
                            samples.add(dataset.get(i));
                        } catch (RuntimeException | Error e) {
                            throw failure("dataset.get(" + i + ") failed for batch " + b + " (dataset indices " + Arrays.toString(idx) + ")", b, i, e);
                        }
                    }
                    return collated(samples, b, Arrays.toString(idx));
                };
            }
        };
    }

    /** The stream's samples read in order; the plan never knows the end in advance, a Work returns END there. */
    private LoaderIterator.Plan streamPlan(Iterator<T> it) {
        int bs = options.batchSize;
        return new LoaderIterator.Plan() {
            long batch, position;

            @Override public LoaderIterator.Work next() {
                long b = batch++;
                return () -> {   // Works of a stream run one at a time, in order (LoaderIterator gives them one worker)
                    List<T> samples = new ArrayList<>(bs);
                    while (samples.size() < bs) {
                        long p = position;
                        try {
                            if (!it.hasNext()) break;
                            samples.add(it.next());
                        } catch (RuntimeException | Error e) {
                            throw failure("the stream's sample " + p + " failed for batch " + b, b, p, e);
                        }
                        position++;
                    }
                    if (samples.isEmpty() || (options.dropLast && samples.size() < bs)) return LoaderIterator.END;
                    return collated(samples, b, "stream positions " + (position - samples.size()) + ".." + (position - 1));
                };
            }
        };
    }

    private Object collated(List<T> samples, long b, String which) {
        try {
            return collate.apply(samples);
        } catch (RuntimeException | Error e) {
            throw failure("collate failed for batch " + b + " (" + (which.startsWith("stream") ? which : "dataset indices " + which) + ")", b, -1, e);
        }
    }

    private static DataLoaderException failure(String what, long batch, long index, Throwable cause) {
        return new DataLoaderException("DataLoader: " + what + " on thread " + Thread.currentThread().getName() + ": " + cause, batch, index, cause);
    }
}
