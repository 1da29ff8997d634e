package dev.fluxion.tensor;

/**
 * Values with the int64 indices they came from along a dim, as PyTorch's {@code torch.return_types}
 * of max/min over a dim, sort and topk. values is differentiable (its gradient goes to the elements the
 * indices name); indices is not.
 *
 * <pre>{@code var top = logits.topk(5, -1, true); Tensor ids = top.indices(); }</pre>
 *
 * @param values the selected values, in the input's dtype
 * @param indices their positions along the dim, int64
 */
public record ValuesIndices(Tensor values, Tensor indices) {}
