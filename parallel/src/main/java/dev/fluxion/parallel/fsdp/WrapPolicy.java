package dev.fluxion.parallel.fsdp;

import dev.fluxion.nn.Module;
import dev.fluxion.nn.TransformerBlock;

import java.util.List;

/**
 * Which submodules become their own FSDP unit (gathered and freed together), as PyTorch's auto-wrap
 * policies. The root module is always a unit and owns every parameter no inner unit owns. Decided
 * children first, so a size policy counts only parameters not already in a unit below.
 *
 * <pre>{@code
 * WrapPolicy.byClass(TransformerBlock.class)      // one unit per block (the usual choice for transformers)
 * WrapPolicy.bySize(1_000_000)                    // any module holding >= 1M parameters of its own
 * }</pre>
 */
@FunctionalInterface
public interface WrapPolicy {
    /**
     * Whether the module at path becomes a unit; unwrappedParams counts its parameters that no unit below
     * it owns.
     */
    boolean wrap(String path, Module module, long unwrappedParams);

    /** Only the root is a unit: one gather of the whole model (for small models and tests). */
    WrapPolicy NONE = (path, m, n) -> false;

    /** Every module that is an instance of one of the classes. */
    @SafeVarargs
    static WrapPolicy byClass(Class<? extends Module>... classes) {
        List<Class<? extends Module>> list = List.of(classes);
        return (path, m, n) -> list.stream().anyMatch(c -> c.isInstance(m));
    }

    /** One unit per {@link TransformerBlock}. */
    static WrapPolicy transformerBlocks() { return byClass(TransformerBlock.class); }

    /** Every module whose not-yet-wrapped parameters number at least minParams. */
    static WrapPolicy bySize(long minParams) {
        if (minParams < 1) throw new IllegalArgumentException("WrapPolicy.bySize: minParams must be >= 1, got " + minParams);
        return (path, m, n) -> n >= minParams;
    }
}
