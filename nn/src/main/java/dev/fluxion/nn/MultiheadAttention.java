package dev.fluxion.nn;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

/**
 * Multi-head attention as torch.nn.MultiheadAttention (query, key and value of width embedDim):
 * softmax(q k^T / sqrt(d) + mask) v per head, then the output projection. Parameters under PyTorch's names
 * and layout, so its state dict loads as is: in_proj_weight (3E, E) (rows q, k, v), in_proj_bias (3E),
 * out_proj.weight (E, E), out_proj.bias (E); init as PyTorch (xavier-uniform in_proj_weight, zero biases).
 * Shapes: batchFirst (N, L, E) queries and (N, S, E) keys/values, else (L, N, E) and (S, N, E).
 * Masks as PyTorch: keyPaddingMask (N, S) and attnMask (L, S) or (N*H, L, S); a bool mask is true where
 * attention is NOT allowed, a float mask is added to the scores. isCausal without an attnMask masks
 * key positions after the query's. A query that may attend nothing gets NaN, as PyTorch.
 *
 * <pre>{@code
 * var mha = new MultiheadAttention(64, 8, 0.0, true, true, init);                  // batch first
 * var out = mha.attend(x, x, x, padMask, null, true, true, false);                // out.output(), out.weights()
 * Tensor y = mha.forward(x, x, x);                                                 // output only
 * }</pre>
 */
public final class MultiheadAttention extends Module {
    private final Parameter inProjWeight;   // (3E, E)
    private final Parameter inProjBias;     // (3E) or null
    private final Child<Module> outProj;    // Linear (E, E), replaceable (LoRA)
    private final int embedDim, numHeads;
    private final double dropout;
    private final boolean batchFirst;
    private final Generator generator;

    /** The attention's output and, when asked for, its weights: (N, L, S) averaged over heads or (N, H, L, S). */
    public record Output(Tensor output, Tensor weights) {}

    /** PyTorch's defaults: no dropout, biases, (L, N, E) inputs. */
    public MultiheadAttention(int embedDim, int numHeads, Init init) { this(embedDim, numHeads, 0.0, true, false, init); }

    /** dropout applies to the attention weights in training; embedDim must be a multiple of numHeads. */
    public MultiheadAttention(int embedDim, int numHeads, double dropout, boolean bias, boolean batchFirst, Init init) {
        if (embedDim <= 0 || numHeads <= 0 || embedDim % numHeads != 0 || dropout < 0 || dropout >= 1)
            throw new IllegalArgumentException("MultiheadAttention: embedDim " + embedDim + " must be a positive multiple of numHeads " + numHeads
                    + ", dropout " + dropout + " in [0, 1)");
        this.embedDim = embedDim;
        this.numHeads = numHeads;
        this.dropout = dropout;
        this.batchFirst = batchFirst;
        this.generator = init.generator();
        this.inProjWeight = register("in_proj_weight", init.xavierUniform(1.0, 3 * embedDim, embedDim));
        this.inProjBias = bias ? register("in_proj_bias", init.zeros(3 * embedDim)) : null;
        Linear out = new Linear(embedDim, embedDim, bias, init);
        if (bias) try (var off = dev.fluxion.autodiff.Autodiff.noGrad()) { out.bias().copy_(init.zeros(embedDim)); }
        this.outProj = child("out_proj", out);
    }

    /** forward(query, key, value[, keyPaddingMask[, attnMask]]) -> the attention output (no weights computed). */
    @Override protected Tensor compute(Tensor... in) {
        checkInputs(in, 3, 5);
        return attend(in[0], in[1], in[2], in.length > 3 ? in[3] : null, in.length > 4 ? in[4] : null, false, true, false).output();
    }

    /**
     * The attention output and, if needWeights, its weights (averaged over heads when averageWeights, as
     * PyTorch's average_attn_weights; null otherwise). Masks may be null.
     */
    public Output attend(Tensor query, Tensor key, Tensor value, Tensor keyPaddingMask, Tensor attnMask,
                         boolean needWeights, boolean averageWeights, boolean isCausal) {
        boolean batched = query.dim() == 3;
        if (!batched) { query = query.unsqueeze(batchFirst ? 0 : 1); key = key.unsqueeze(batchFirst ? 0 : 1); value = value.unsqueeze(batchFirst ? 0 : 1);
            if (keyPaddingMask != null) keyPaddingMask = keyPaddingMask.unsqueeze(0); }
        if (!batchFirst) { query = query.transpose(0, 1); key = key.transpose(0, 1); value = value.transpose(0, 1); }
        if (query.dim() != 3 || key.dim() != 3 || value.dim() != 3 || query.size(2) != embedDim || key.size(2) != embedDim || value.size(2) != embedDim
                || key.size(0) != query.size(0) || value.size(0) != query.size(0) || key.size(1) != value.size(1))
            throw new IllegalArgumentException("MultiheadAttention: query " + Shape.str(query.shape()) + ", key " + Shape.str(key.shape()) + ", value "
                    + Shape.str(value.shape()) + " (batch first) must be (N, L, " + embedDim + ") and (N, S, " + embedDim + ")");
        int n = query.size(0), l = query.size(1), s = key.size(1), h = numHeads, d = embedDim / h;
        Tensor q = heads(project(query, 0), n, l), k = heads(project(key, 1), n, s), v = heads(project(value, 2), n, s);   // (N, H, *, D)
        Tensor scores = q.matmul(k.transpose(2, 3)).mul(1 / Math.sqrt(d));                                                 // (N, H, L, S)
        if (attnMask == null && isCausal) attnMask = Tensor.ones(DType.BOOL, query.device(), l, s).triu(1);
        if (attnMask != null) {
            if (!(attnMask.dim() == 2 && attnMask.size(0) == l && attnMask.size(1) == s) && !(attnMask.dim() == 3 && attnMask.size(0) == n * h && attnMask.size(1) == l && attnMask.size(2) == s))
                throw new IllegalArgumentException("MultiheadAttention: attnMask " + Shape.str(attnMask.shape()) + " must be (" + l + ", " + s + ") or (" + n * h + ", " + l + ", " + s + ")");
            scores = scores.add(additive(attnMask.dim() == 3 ? attnMask.reshape(n, h, l, s) : attnMask, scores));
        }
        if (keyPaddingMask != null) {
            if (keyPaddingMask.dim() != 2 || keyPaddingMask.size(0) != n || keyPaddingMask.size(1) != s)
                throw new IllegalArgumentException("MultiheadAttention: keyPaddingMask " + Shape.str(keyPaddingMask.shape()) + " must be (" + n + ", " + s + ")");
            scores = scores.add(additive(keyPaddingMask.reshape(n, 1, 1, s), scores));
        }
        Tensor weights = scores.softmax(-1);
        Tensor attended = isTraining() && dropout > 0 ? Functional.dropout(weights, dropout, generator) : weights;
        Tensor y = attended.matmul(v).transpose(1, 2).reshape(n, l, embedDim);                                           // (N, L, E)
        y = outProj.forward(y);
        if (!batchFirst) y = y.transpose(0, 1);
        if (!batched) y = y.squeeze(batchFirst ? 0 : 1);
        Tensor w = null;
        if (needWeights) {
            w = averageWeights ? attended.mean(1, false) : attended;
            if (!batched) w = w.squeeze(0);
        }
        return new Output(y, w);
    }

    /** x (N, T, E) through rows [part E, (part+1) E) of the input projection. */
    private Tensor project(Tensor x, int part) {
        Tensor w = inProjWeight.narrow(0, part * embedDim, embedDim);
        Tensor b = inProjBias == null ? null : inProjBias.narrow(0, part * embedDim, embedDim);
        return Functional.linear(x, w, b);
    }

    private Tensor heads(Tensor x, int n, int t) { return x.reshape(n, t, numHeads, embedDim / numHeads).transpose(1, 2); }

    /** A bool mask (true = masked) as 0 / -inf in the scores' dtype; a float mask as is. */
    private static Tensor additive(Tensor mask, Tensor like) {
        if (mask.dtype() == DType.BOOL) return Tensor.zeros(like.dtype(), like.device(), mask.shape()).maskedFill(mask, Double.NEGATIVE_INFINITY);
        if (!mask.dtype().isFloatingPoint())
            throw new IllegalArgumentException("MultiheadAttention: masks must be bool or floating point, got " + mask.dtype());
        return mask.to(like.dtype());
    }

    @Override protected String extraRepr() {
        return "embed_dim=" + embedDim + ", num_heads=" + numHeads + ", dropout=" + dropout + ", batch_first=" + batchFirst;
    }
}
