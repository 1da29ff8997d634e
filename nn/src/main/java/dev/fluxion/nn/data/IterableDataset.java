package dev.fluxion.nn.data;

/**
 * A stream of samples, as torch.utils.data.IterableDataset: no size and no random access, so a
 * {@link DataLoader} over it batches samples in the order the iterator gives them (no shuffling or sampler).
 * Each {@link #iterator()} call starts a new pass (an epoch).
 *
 * <pre>{@code
 * IterableDataset<Tensor> lines = () -> Files.lines(path).map(Parse::row).iterator();
 * }</pre>
 */
@FunctionalInterface
public interface IterableDataset<T> extends Iterable<T> {}
