package dev.fluxion.nn.data;

/**
 * A sample or a batch that a {@link DataLoader} could not make, rethrown on the thread that iterates: the
 * message names the batch, the dataset index (or stream position) and the worker thread; the cause is the
 * dataset's or collate function's own exception.
 */
public final class DataLoaderException extends RuntimeException {
    /** See {@link #batch()}. */
    private final long batch;
    /** See {@link #index()}. */
    private final long index;

    DataLoaderException(String message, long batch, long index, Throwable cause) {
        super(message, cause);
        this.batch = batch;
        this.index = index;
    }

    /** The batch number in the epoch (from 0). */
    public long batch() { return batch; }

    /** The dataset index (stream position for an IterableDataset) whose sample failed, or -1 when collate failed. */
    public long index() { return index; }
}
