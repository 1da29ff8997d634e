package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.nn.io.SafetensorsException;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A model saved to safetensors and loaded into a fresh one gives identical outputs; a damaged file is refused. */
class ModelCheckpointTest {
    private static final Gpt.Config CONFIG = new Gpt.Config(32, 8, 2, 2, 16, 0.0);

    @Test
    void saveThenLoadGivesIdenticalOutputs(@TempDir Path dir) throws Exception {
        Gpt trained = new Gpt(CONFIG, Init.seed(1)), fresh = new Gpt(CONFIG, Init.seed(2));
        Tensor ids = Tensor.randint(new Generator(3), 0, 32, 2, 8);
        Path file = dir.resolve("gpt.safetensors");
        Safetensors.save(file, trained.stateDict());
        fresh.loadStateDict(Safetensors.load(file));
        try (var off = Autodiff.noGrad()) {
            assertArrayEquals(trained.forward(ids).toFloatArray(), fresh.forward(ids).toFloatArray(), "bitwise equal outputs");
        }
    }

    @Test
    void aTruncatedFileIsRefusedAndTheModelKeepsItsWeights(@TempDir Path dir) throws Exception {
        Gpt model = new Gpt(CONFIG, Init.seed(1));
        Path file = dir.resolve("gpt.safetensors");
        Safetensors.save(file, new Gpt(CONFIG, Init.seed(5)).stateDict());
        byte[] bytes = Files.readAllBytes(file);
        Files.write(file, Arrays.copyOf(bytes, bytes.length - 100));
        float[] before = model.parameters().get(0).toFloatArray();
        var e = assertThrows(SafetensorsException.class, () -> model.loadStateDict(Safetensors.load(file)));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        assertArrayEquals(before, model.parameters().get(0).toFloatArray());
        assertTrue(model.parameters().get(0).dtype() == DType.FLOAT32);
    }
}
