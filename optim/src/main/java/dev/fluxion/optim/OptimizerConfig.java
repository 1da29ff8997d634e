package dev.fluxion.optim;

/**
 * The settings of one parameter group of an optimizer: an immutable record such as {@link Adam.Config}.
 * Every config has a learning rate, which schedules change through {@link #withLr}.
 *
 * @param <C> the record type itself
 */
public interface OptimizerConfig<C extends OptimizerConfig<C>> {
    double lr();

    /** A copy with lr replaced (validated like any other value). */
    C withLr(double lr);
}
