package dev.fluxion.tensor;

/**
 * The result of {@link Tensor#uniqueAll()}, as torch.unique(x, sorted=True, return_inverse=True,
 * return_counts=True): values[inverse] rebuilds the input. None of it carries a gradient.
 *
 * @param values the distinct elements, ascending, 1-D
 * @param inverse for each input element, the index of its value in values (int64, the input's shape)
 * @param counts how often each value occurs (int64, values' length)
 */
public record Unique(Tensor values, Tensor inverse, Tensor counts) {}
