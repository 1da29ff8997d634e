package dev.fluxion.parallel.ps;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.List;

/** Copies between parameters (or their gradients) and the flat shards of a {@link ShardLayout}. */
final class Shards {
    private Shards() {}

    /** Server's shard, cut from the parameters' values. */
    static float[] gather(ShardLayout layout, int server, List<? extends Tensor> params) {
        check(layout, params);
        float[] out = new float[(int) layout.shardElements(server)];
        for (ShardLayout.Piece p : layout.pieces(server)) {
            float[] all = params.get(p.param()).toFloatArray();
            System.arraycopy(all, (int) p.paramOffset(), out, (int) p.shardOffset(), (int) p.elements());
        }
        return out;
    }

    static void check(ShardLayout layout, List<? extends Tensor> params) {
        if (params.size() != layout.params())
            throw new IllegalArgumentException("parameter server: " + params.size() + " parameters, the layout has " + layout.params());
        for (int i = 0; i < params.size(); i++)
            if (params.get(i).dtype() != DType.FLOAT32)
                throw new IllegalArgumentException("parameter server: parameter " + i + " is " + params.get(i).dtype() + "; only float32 parameters are served");
    }
}
