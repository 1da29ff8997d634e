package dev.fluxion.nn.data;

import dev.fluxion.tensor.Generator;

import java.util.Objects;

/**
 * The dataset indices of one epoch, in the order a {@link DataLoader} reads them, as torch.utils.data.Sampler.
 * Each {@link #indices()} call is a new epoch: a random sampler draws a new permutation each time.
 *
 * <pre>{@code
 * Sampler s = Sampler.random(ds.size(), 42);     // same seed: same sequence of epochs
 * Sampler mine = () -> new int[] {3, 1, 2};      // a user's own
 * }</pre>
 */
@FunctionalInterface
public interface Sampler {

    /** The next epoch's indices (a fresh array the caller may keep). */
    int[] indices();

    /** 0, 1, ..., size - 1 every epoch, as torch SequentialSampler. */
    static Sampler sequential(int size) {
        if (size < 0) throw new IllegalArgumentException("Sampler.sequential: size must be >= 0, got " + size);
        return () -> identity(size);
    }

    /**
     * A new permutation of 0..size-1 every epoch drawn from one generator seeded with {@code seed}, as torch
     * RandomSampler with a seeded generator: the same seed gives the same sequence of permutations.
     */
    static Sampler random(int size, long seed) { return random(size, new Generator(seed)); }

    /** As {@link #random(int, long)}, drawing from {@code generator} (shared with the caller, not copied). */
    static Sampler random(int size, Generator generator) {
        if (size < 0) throw new IllegalArgumentException("Sampler.random: size must be >= 0, got " + size);
        Objects.requireNonNull(generator, "Sampler.random: generator is null");
        return () -> {
            synchronized (generator) { return permutation(size, generator); }
        };
    }

    /** A uniformly random permutation of 0..size-1 (Fisher-Yates) drawn from g. */
    static int[] permutation(int size, Generator g) {
        int[] p = identity(size);
        for (int i = size - 1; i > 0; i--) {
            int j = (int) g.nextLong(0, i + 1);
            int tmp = p[i];
            p[i] = p[j];
            p[j] = tmp;
        }
        return p;
    }

    private static int[] identity(int size) {
        int[] p = new int[size];
        for (int i = 0; i < size; i++) p[i] = i;
        return p;
    }
}
