package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;

/**
 * Long short-term memory as torch.nn.LSTM: per step, gates = x W_ih^T + b_ih + h W_hh^T + b_hh split into
 * i, f, g, o (PyTorch's order); c' = sigmoid(f) c + sigmoid(i) tanh(g), h' = sigmoid(o) tanh(c'). Layers,
 * bidirectional, batchFirst, inter-layer dropout and parameter names (weight_ih_l0, weight_hh_l0_reverse,
 * ...) as PyTorch's, so its state dict loads as is. No proj_size.
 *
 * <pre>{@code
 * var lstm = new LSTM(10, 20, 2, true, true, 0.0, true, init);    // 2 layers, batch first, bidirectional
 * LSTM.Output o = lstm.run(x, null, null);                        // o.output() (N, L, 40), o.hN(), o.cN() (4, N, 20)
 * }</pre>
 */
public final class LSTM extends Recurrent {
    /** output (L, N, D H) (or (N, L, D H) batch first), and the last states h_n, c_n (layers * D, N, H). */
    public record Output(Tensor output, Tensor hN, Tensor cN) {}

    /** One layer, PyTorch's defaults. */
    public LSTM(int inputSize, int hiddenSize, Init init) { this(inputSize, hiddenSize, 1, true, false, 0.0, false, init); }

    /** All of torch.nn.LSTM's options except proj_size. */
    public LSTM(int inputSize, int hiddenSize, int numLayers, boolean bias, boolean batchFirst, double dropout, boolean bidirectional, Init init) {
        super(4, inputSize, hiddenSize, numLayers, bias, batchFirst, dropout, bidirectional, init);
    }

    /** Runs over x from h0 and c0 ((layers * D, N, H) each, null for zeros). */
    public Output run(Tensor x, Tensor h0, Tensor c0) {
        Tensor[] r = super.run(x, h0, c0);
        return new Output(r[0], r[1], r[2]);
    }

    /** forward(x[, h0, c0]) -> output only; {@link #run} gives the states too. */
    @Override protected Tensor compute(Tensor... in) {
        checkInputs(in, 1, 3);
        return run(in[0], in.length > 1 ? in[1] : null, in.length > 2 ? in[2] : null).output();
    }

    @Override int stateCount() { return 2; }

    @Override Tensor[] cell(Tensor xw, Tensor[] state, Tensor whh, Tensor bhh) {
        int h = hiddenSize;
        Tensor g = xw.add(hidden(state[0], whh, bhh));                   // (N, 4H)
        Tensor i = g.narrow(1, 0, h).sigmoid(), f = g.narrow(1, h, h).sigmoid();
        Tensor cand = g.narrow(1, 2 * h, h).tanh(), o = g.narrow(1, 3 * h, h).sigmoid();
        Tensor c = f.mul(state[1]).add(i.mul(cand));
        return new Tensor[] {o.mul(c.tanh()), c};
    }
}
