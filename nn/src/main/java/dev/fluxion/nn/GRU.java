package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * Gated recurrent unit as torch.nn.GRU: per step, with gates in PyTorch's order r, z, n,
 * r = sigmoid(x W_ir + b_ir + h W_hr + b_hr), z likewise, n = tanh(x W_in + b_in + r (h W_hn + b_hn)),
 * h' = (1 - z) n + z h. Layers, bidirectional, batchFirst, inter-layer dropout and parameter names
 * (weight_ih_l0, weight_hh_l0_reverse, ...) as PyTorch's.
 *
 * <pre>{@code
 * var gru = new GRU(10, 20, 1, true, true, 0.0, false, init);
 * GRU.Output o = gru.run(x, null);      // o.output() (N, L, 20), o.hN() (1, N, 20)
 * }</pre>
 */
public final class GRU extends Recurrent {
    /** output (L, N, D H) (or (N, L, D H) batch first), and the last state h_n (layers * D, N, H). */
    public record Output(Tensor output, Tensor hN) {}

    /** One layer, PyTorch's defaults. */
    public GRU(int inputSize, int hiddenSize, Init init) { this(inputSize, hiddenSize, 1, true, false, 0.0, false, init); }

    /** All of torch.nn.GRU's options. */
    public GRU(int inputSize, int hiddenSize, int numLayers, boolean bias, boolean batchFirst, double dropout, boolean bidirectional, Init init) {
        super(3, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, init);
    }

    /** Runs over x from h0 ((layers * D, N, H), null for zeros). */
    public Output run(Tensor x, Tensor h0) {
        Tensor[] r = super.run(x, h0);
        return new Output(r[0], r[1]);
    }

    /** forward(x[, h0]) -> output only; {@link #run} gives h_n too. */
    @Override protected Tensor compute(Tensor... in) {
        checkInputs(in, 1, 2);
        return run(in[0], in.length > 1 ? in[1] : null).output();
    }

    @Override int stateCount() { return 1; }

    @Override Tensor[] cell(Tensor xw, Tensor[] state, Tensor whh, Tensor bhh) {
        int h = hiddenSize;
        Tensor hw = hidden(state[0], whh, bhh);                          // (N, 3H)
        Tensor r = xw.narrow(1, 0, h).add(hw.narrow(1, 0, h)).sigmoid();
        Tensor z = xw.narrow(1, h, h).add(hw.narrow(1, h, h)).sigmoid();
        Tensor nn = xw.narrow(1, 2 * h, h).add(r.mul(hw.narrow(1, 2 * h, h))).tanh();
        return new Tensor[] {nn.add(z.mul(state[0].sub(nn)))};         // (1 - z) n + z h
    }
}
