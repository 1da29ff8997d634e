package dev.fluxion.nn.data;

import dev.fluxion.tensor.Generator;

/**
 * One rank's shard of a dataset, as torch.utils.data.DistributedSampler: every rank permutes 0..size-1 the
 * same way (seeded with {@code seed + epoch}, so all ranks agree and each epoch differs; call
 * {@link #setEpoch} at the start of each epoch), then rank r takes positions r, r + R, r + 2R, ... of it.
 *
 * <p>Without dropLast the list is padded to totalSize = ceil(size / R) * R by repeating its beginning (wrapping
 * around as often as needed), so every rank gets numSamples = totalSize / R indices and the shards cover the
 * dataset, overlapping only in the padding. With dropLast the tail that does not divide evenly is cut instead:
 * numSamples = ceil((size - R) / R) when size % R != 0, and the shards are disjoint.
 *
 * <pre>{@code
 * var sampler = new DistributedSampler(ds.size(), pg.size(), pg.rank(), true, 42, false);
 * var loader = DataLoader.tuples(ds, DataLoader.Options.DEFAULT.withBatchSize(32).withSampler(sampler));
 * for (int epoch = 0; epoch < epochs; epoch++) { sampler.setEpoch(epoch); for (var b : loader) ...; }
 * }</pre>
 *
 * The permutation is Fluxion's (from {@link Generator}), not torch's: same seed, different order than torch.
 */
public final class DistributedSampler implements Sampler {
    private final int size, numReplicas, rank;
    private final boolean shuffle, dropLast;
    private final long seed;
    private final int numSamples;
    private volatile long epoch;

    /** Refuses {@code numReplicas < 1}, a rank outside [0, numReplicas), or a negative size. */
    public DistributedSampler(int size, int numReplicas, int rank, boolean shuffle, long seed, boolean dropLast) {
        if (size < 0) throw new IllegalArgumentException("DistributedSampler: dataset size must be >= 0, got " + size);
        if (numReplicas < 1) throw new IllegalArgumentException("DistributedSampler: numReplicas must be >= 1, got " + numReplicas);
        if (rank < 0 || rank >= numReplicas)
            throw new IllegalArgumentException("DistributedSampler: invalid rank " + rank + ", rank should be in the interval [0, " + (numReplicas - 1) + "]");
        this.size = size;
        this.numReplicas = numReplicas;
        this.rank = rank;
        this.shuffle = shuffle;
        this.seed = seed;
        this.dropLast = dropLast;
        this.numSamples = dropLast && size % numReplicas != 0
                ? (int) Math.ceil((double) (size - numReplicas) / numReplicas)
                : (int) Math.ceil((double) size / numReplicas);
    }

    /** Sets the epoch that seeds the next permutation (seed + epoch), as torch's set_epoch. */
    public void setEpoch(long epoch) { this.epoch = epoch; }

    /** The epoch set last (0 at first). */
    public long epoch() { return epoch; }

    /** Indices this rank reads per epoch. */
    public int numSamples() { return numSamples; }

    /** numSamples * numReplicas: the padded (or cut) length of the epoch's list over all ranks. */
    public int totalSize() { return numSamples * numReplicas; }

    /** This rank's indices for the current epoch (the same on every call until {@link #setEpoch}). */
    @Override public int[] indices() {
        int total = totalSize();
        int[] all = shuffle ? Sampler.permutation(size, new Generator(seed + epoch)) : Sampler.sequential(size).indices();
        int[] out = new int[numSamples];
        // position p of the padded list is all[p % size]: the beginning repeated as often as the padding needs
        for (int k = 0, p = rank; p < total; k++, p += numReplicas) out[k] = all[p % size];
        return out;
    }

    @Override public String toString() {
        return "DistributedSampler(size " + size + ", rank " + rank + " of " + numReplicas + ", shuffle " + shuffle + ", seed " + seed
                + ", epoch " + epoch + ", dropLast " + dropLast + ")";
    }
}
