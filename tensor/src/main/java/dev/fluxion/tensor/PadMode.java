package dev.fluxion.tensor;

/** How {@link Tensor#pad} fills the new border (torch.nn.functional.pad's mode). */
public enum PadMode {
    /** A constant value (negative padding crops). */
    CONSTANT,
    /** The mirror image without repeating the edge: [1, 2, 3] padded by 2 on the left gives [3, 2, 1, 2, 3]. */
    REFLECT,
    /** Copies of the edge element: [1, 2, 3] padded by 2 on the left gives [1, 1, 1, 2, 3]. */
    REPLICATE,
    /** Wraps around: [1, 2, 3] padded by 2 on the left gives [2, 3, 1, 2, 3]. */
    CIRCULAR
}
