package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

class SavedBytesProbe {
    @Test
    void probe() {
        var config = new Gpt.Config(256, 64, 3, 4, 128, 0.0);
        Gpt model = new Gpt(config, Init.seed(1));
        Autodiff.tape().clear();
        Tensor ids = Tensor.randint(new Generator(3), 0, 256, 16, 64);
        Tensor targets = Tensor.randint(new Generator(4), 0, 256, 16, 64);
        Tensor loss = Losses.crossEntropy(model.forward(ids), targets);
        long params = 0;
        for (Tensor p : model.parameters()) params += p.storage().nbytes();
        System.out.println("PROBE entries=" + Autodiff.tape().size() + " savedTensors=" + Autodiff.tape().savedTensorCount()
                + " savedBytes=" + Autodiff.tape().savedBytes() + " paramBytes=" + params);
        loss.backward();
    }
}
