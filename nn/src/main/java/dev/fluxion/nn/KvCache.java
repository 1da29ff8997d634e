package dev.fluxion.nn;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.Arrays;
import java.util.Objects;

/**
 * The keys and values every attention layer of a {@link Gpt} computed for the tokens seen so far, so that
 * generating one more token runs the model on that token only: its cost grows linearly with the context, not
 * quadratically as a full forward of the whole sequence does.
 *
 * <pre>{@code
 * try (var cache = new KvCache(model.config(), 1, DType.FLOAT32, Device.CPU)) {
 *     Tensor logits = model.forwardCached(promptIds, cache);    // (1, T, vocab); cache.length() == T
 *     logits = model.forwardCached(nextId, cache);              // (1, 1, vocab) for position T
 * }
 * }</pre>
 *
 * Each layer holds K and V buffers of shape (B, H, context, D), allocated once (escaped from any scope and
 * freed by {@link #close()}); the cache is full when {@link #length()} reaches the context, and
 * {@link #reset()} empties it (the buffers are reused).
 */
public final class KvCache implements AutoCloseable {
    private final Tensor[] keys, values;   // per layer (B, H, context, D)
    private final int batch, heads, context, headDim;
    private int length;
    private boolean closed;

    /** A cache for a model of this config, a batch of {@code batch} sequences, in dtype on device. */
    public KvCache(Gpt.Config config, int batch, DType dtype, Device device) {
        Objects.requireNonNull(config, "KvCache: config is null");
        if (batch < 1) throw new IllegalArgumentException("KvCache: batch must be >= 1, got " + batch);
        this.batch = batch;
        this.heads = config.heads();
        this.context = config.context();
        this.headDim = config.width() / config.heads();
        keys = new Tensor[config.layers()];
        values = new Tensor[config.layers()];
        for (int l = 0; l < keys.length; l++) {
            keys[l] = Scope.escape(Tensor.zeros(dtype, device, batch, heads, context, headDim));
            values[l] = Scope.escape(Tensor.zeros(dtype, device, batch, heads, context, headDim));
        }
    }

    /** Tokens cached so far: the position the next token gets. */
    public int length() { return length; }

    /** The most tokens the cache holds (the model's context). */
    public int capacity() { return context; }

    /** The batch size the cache was made for. */
    public int batch() { return batch; }

    /** Empties the cache (for a new sequence, or to recompute a cropped window). */
    public void reset() {
        checkOpen();
        length = 0;
    }

    /**
     * Writes layer {@code layer}'s keys and values of t new tokens (each (B, H, t, D)) at positions
     * length..length+t-1 and returns the keys and values of all length+t positions (views of the buffers).
     * The length itself advances once per forward, in {@link #advance}.
     */
    Tensor[] append(int layer, Tensor k, Tensor v) {
        checkOpen();
        int t = k.size(2);
        if (k.size(0) != batch || k.size(1) != heads || k.size(3) != headDim)
            throw new IllegalArgumentException("KvCache: keys of shape " + Arrays.toString(k.shape()) + " do not fit a cache of (B " + batch
                    + ", H " + heads + ", D " + headDim + ")");
        if (length + t > context)
            throw new IllegalStateException("KvCache: " + t + " new tokens after " + length + " exceed the context " + context
                    + "; reset() and recompute the last window (as Gpt.generate does)");
        keys[layer].narrow(2, length, t).copy_(k);
        values[layer].narrow(2, length, t).copy_(v);
        return new Tensor[] {keys[layer].narrow(2, 0, length + t), values[layer].narrow(2, 0, length + t)};
    }

    /** Marks t more positions as cached (after every layer appended them). */
    void advance(int t) { length += t; }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("KvCache: the cache was closed");
    }

    /** Frees the buffers. */
    @Override public void close() {
        if (closed) return;
        closed = true;
        for (int l = 0; l < keys.length; l++) {
            keys[l].close();
            values[l].close();
        }
    }
}
