package dev.fluxion.nn;

import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertNotNull;

/** The tensors of one reference file under src/test/resources/reference (written by a script in src/test/python). */
public record ReferenceFile(String name, Map<String, Tensor> tensors) {

    public static ReferenceFile load(String fileName) {
        try {
            return new ReferenceFile(fileName, Safetensors.load(Path.of("src/test/resources/reference", fileName)));
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the reference file " + fileName, e);
        }
    }

    /** The named tensor; a missing one fails the test, naming the file. */
    public Tensor get(String tensor) {
        Tensor t = tensors.get(tensor);
        assertNotNull(t, "reference file " + name + " has no tensor " + tensor);
        return t;
    }
}
