package dev.fluxion.tensor;

/**
 * Removes the gradient hook it was returned for ({@link Tensor#registerHook}), as PyTorch's RemovableHandle;
 * closing it does the same, so a try-with-resources block scopes a hook.
 */
public interface HookHandle extends AutoCloseable {
    /** Removes the hook; removing twice does nothing. */
    void remove();

    @Override default void close() { remove(); }
}
