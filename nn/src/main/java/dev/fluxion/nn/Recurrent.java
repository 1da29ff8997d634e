package dev.fluxion.nn;

import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What LSTM and GRU share (torch.nn.modules.rnn.RNNBase): layers of cells run over time, each layer
 * forward and, when bidirectional, backward in time, its input the previous layer's output (both
 * directions concatenated), dropout between layers in training. Parameters per layer l and direction
 * ("" or "_reverse"), in PyTorch's order and names: weight_ih_l{l} (G H, in), weight_hh_l{l} (G H, H),
 * bias_ih_l{l} (G H), bias_hh_l{l} (G H), G gates stacked in PyTorch's order; all U(-1/sqrt(H), 1/sqrt(H)).
 * Inputs (L, N, in), (N, L, in) when batchFirst, or unbatched (L, in); states (layers * directions, N, H).
 */
abstract sealed class Recurrent extends Module permits LSTM, GRU {
    final int inputSize, hiddenSize, numLayers, gates;
    final boolean batchFirst, bidirectional;
    private final double dropout;
    private final Generator generator;
    private final Parameter[][] weights;   // [layer * directions + direction] -> {w_ih, w_hh, b_ih or null, b_hh or null}

    Recurrent(int gates, int inputSize, int hiddenSize, int numLayers, boolean bias, boolean batchFirst, double dropout, boolean bidirectional, Init init) {
        String name = getClass().getSimpleName();
        if (inputSize <= 0 || hiddenSize <= 0 || numLayers <= 0 || dropout < 0 || dropout >= 1)
            throw new IllegalArgumentException(name + ": inputSize " + inputSize + ", hiddenSize " + hiddenSize + " and numLayers " + numLayers
                    + " must be positive, dropout " + dropout + " in [0, 1)");
        this.gates = gates;
        this.inputSize = inputSize;
        this.hiddenSize = hiddenSize;
        this.numLayers = numLayers;
        this.batchFirst = batchFirst;
        this.bidirectional = bidirectional;
        this.dropout = dropout;
        this.generator = init.generator();
        int dirs = bidirectional ? 2 : 1;
        double k = 1 / Math.sqrt(hiddenSize);
        weights = new Parameter[numLayers * dirs][];
        for (int l = 0; l < numLayers; l++)
            for (int d = 0; d < dirs; d++) {
                String sfx = "_l" + l + (d == 1 ? "_reverse" : "");
                int in = l == 0 ? inputSize : hiddenSize * dirs;
                Parameter wih = register("weight_ih" + sfx, init.uniform(-k, k, gates * hiddenSize, in));
                Parameter whh = register("weight_hh" + sfx, init.uniform(-k, k, gates * hiddenSize, hiddenSize));
                Parameter bih = bias ? register("bias_ih" + sfx, init.uniform(-k, k, gates * hiddenSize)) : null;
                Parameter bhh = bias ? register("bias_hh" + sfx, init.uniform(-k, k, gates * hiddenSize)) : null;
                weights[l * dirs + d] = new Parameter[] {wih, whh, bih, bhh};
            }
    }

    /**
     * One step: xw = x W_ih^T + b_ih for this time step (N, G H), the states (h, and c for an LSTM), the
     * hidden weights; returns the new states.
     */
    abstract Tensor[] cell(Tensor xw, Tensor[] state, Tensor whh, Tensor bhh);

    /** The number of state tensors (2 for an LSTM: h and c). */
    abstract int stateCount();

    /**
     * Runs the layers over x with initial states (each (layers * directions, N, H), or null for zeros).
     * Returns {output (L, N, D H) in the input's layout, h_n, [c_n]}.
     */
    final Tensor[] run(Tensor x, Tensor... initial) {
        String name = getClass().getSimpleName();
        boolean batched = x.dim() == 3;
        if (x.dim() != 2 && x.dim() != 3 || x.size(-1) != inputSize)
            throw new IllegalArgumentException(name + ": input " + Shape.str(x.shape()) + " must be (L, N, " + inputSize + "), (N, L, " + inputSize
                    + ") with batchFirst, or (L, " + inputSize + ")");
        if (!batched) x = x.unsqueeze(1);
        else if (batchFirst) x = x.transpose(0, 1);                      // (L, N, in)
        int len = x.size(0), n = x.size(1), dirs = bidirectional ? 2 : 1;
        Tensor[] init = new Tensor[stateCount()];
        for (int s = 0; s < init.length; s++) {
            Tensor t = s < initial.length ? initial[s] : null;
            if (t != null && !batched) t = t.unsqueeze(1);
            if (t != null && !Arrays.equals(t.shape(), new int[] {numLayers * dirs, n, hiddenSize}))
                throw new IllegalArgumentException(name + ": initial state " + s + " has shape " + Shape.str(initial[s].shape()) + ", expected "
                        + Shape.str(batched ? new int[] {numLayers * dirs, n, hiddenSize} : new int[] {numLayers * dirs, hiddenSize}));
            init[s] = t != null ? t : Tensor.zeros(x.dtype(), x.device(), numLayers * dirs, n, hiddenSize);
        }
        List<List<Tensor>> finals = new ArrayList<>();
        for (int s = 0; s < init.length; s++) finals.add(new ArrayList<>());
        Tensor layerIn = x;
        for (int l = 0; l < numLayers; l++) {
            if (l > 0 && dropout > 0 && isTraining()) layerIn = Functional.dropout(layerIn, dropout, generator);
            Tensor[] outs = new Tensor[dirs];
            for (int d = 0; d < dirs; d++) {
                Parameter[] w = weights[l * dirs + d];
                Tensor xw = Functional.linear(layerIn, w[0], w[2]);      // (L, N, G H): every time step in one GEMM
                Tensor[] state = new Tensor[init.length];
                for (int s = 0; s < state.length; s++) state[s] = init[s].select(0, l * dirs + d);
                Tensor[] hs = new Tensor[len];
                for (int step = 0; step < len; step++) {
                    int t = d == 0 ? step : len - 1 - step;
                    state = cell(xw.select(0, t), state, w[1], w[3]);
                    hs[t] = state[0].unsqueeze(0);
                }
                outs[d] = Tensor.cat(List.of(hs), 0);                    // (L, N, H)
                for (int s = 0; s < state.length; s++) finals.get(s).add(state[s].unsqueeze(0));
            }
            layerIn = dirs == 1 ? outs[0] : Tensor.cat(List.of(outs), 2);
        }
        Tensor out = !batched ? layerIn.squeeze(1) : batchFirst ? layerIn.transpose(0, 1) : layerIn;
        Tensor[] result = new Tensor[1 + init.length];
        result[0] = out;
        for (int s = 0; s < init.length; s++) {
            Tensor f = Tensor.cat(finals.get(s), 0);                      // (layers * D, N, H)
            result[1 + s] = batched ? f : f.squeeze(1);
        }
        return result;
    }

    /** x W_hh^T + b_hh for the hidden state, (N, G H). */
    static Tensor hidden(Tensor h, Tensor whh, Tensor bhh) { return Functional.linear(h, whh, bhh); }

    @Override protected String extraRepr() {
        return inputSize + ", " + hiddenSize + (numLayers > 1 ? ", num_layers=" + numLayers : "") + (batchFirst ? ", batch_first=true" : "")
                + (dropout > 0 ? ", dropout=" + dropout : "") + (bidirectional ? ", bidirectional=true" : "");
    }
}
