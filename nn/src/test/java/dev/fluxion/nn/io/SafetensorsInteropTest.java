package dev.fluxion.nn.io;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.util.passthrough.PassthroughNDManager;
import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static dev.fluxion.nn.io.TestFiles.assertSameTensor;
import static dev.fluxion.nn.io.TestFiles.bytes;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Fluxion against two independent implementations of the format: PyTorch through
 * nn/src/test/python/make_safetensors.py (which writes the format itself from the spec, with struct and json),
 * and DJL's NDList safetensors codec (ai.djl:api). Files cross in both directions.
 */
class SafetensorsInteropTest {
    private static final String SCRIPT = "src/test/python/make_safetensors.py";
    private static final String PYTHON = "/usr/bin/python3";
    @TempDir Path dir;

    private static Path resource(String name) throws URISyntaxException {
        return Path.of(SafetensorsInteropTest.class.getResource("/reference/safetensors/" + name).toURI());
    }

    @Test
    void readsTheFileTorchWrote() throws Exception {
        JsonNode expected = new ObjectMapper().readTree(resource("torch_tensors.json").toFile());
        try (Safetensors.Contents c = Safetensors.read(resource("torch_tensors.safetensors"))) {
            Map<String, String> meta = new ObjectMapper().convertValue(expected.get("metadata"), new TypeReference<Map<String, String>>() {});
            assertEquals(meta, c.metadata());
            assertEquals(expected.get("tensors").size(), c.tensors().size());
            expected.get("tensors").fields().forEachRemaining(e -> checkAgainstTorch(e.getKey(), e.getValue(), c.tensors().get(e.getKey())));
        }
    }

    /** dtype, shape, raw bytes, and values (floats given as Python reprs, so NaN, infinities and -0.0 are exact). */
    private static void checkAgainstTorch(String name, JsonNode want, Tensor got) {
        assertEquals(want.get("dtype").asText(), SafetensorsHeader.code(got.dtype()), name);
        int[] shape = new int[want.get("shape").size()];
        for (int i = 0; i < shape.length; i++) shape[i] = want.get("shape").get(i).asInt();
        assertArrayEquals(shape, got.shape(), name);
        assertEquals(want.get("bytes").asText(), HexFormat.of().formatHex(bytes(got)), name + ": bytes");
        JsonNode values = want.get("values");
        if (got.dtype().isFloatingPoint()) {
            double[] v = got.toDoubleArray();
            for (int i = 0; i < v.length; i++) {
                double w = switch (values.get(i).asText()) {
                    case "nan" -> Double.NaN;
                    case "inf" -> Double.POSITIVE_INFINITY;
                    case "-inf" -> Double.NEGATIVE_INFINITY;
                    default -> Double.parseDouble(values.get(i).asText());
                };
                assertEquals(Double.doubleToLongBits(w), Double.doubleToLongBits(v[i]), name + "[" + i + "]: " + w + " vs " + v[i]);
            }
        } else {
            long[] v = got.toLongArray();
            for (int i = 0; i < v.length; i++)
                assertEquals(values.get(i).isBoolean() ? (values.get(i).asBoolean() ? 1 : 0) : values.get(i).asLong(), v[i], name + "[" + i + "]");
        }
    }

    /** Fluxion re-saves torch's tensors; the result must equal the committed file that make_safetensors.py --verify checks. */
    @Test
    void writesTheCommittedFileThatPyTorchVerifies() throws Exception {
        Path written = Path.of("target", "fluxion_written.safetensors");
        try (Safetensors.Contents c = Safetensors.read(resource("torch_tensors.safetensors"))) {
            Safetensors.save(written, c.tensors(), c.metadata());
        }
        if (!Files.exists(Path.of("src/test/resources/reference/safetensors/fluxion_written.safetensors"))
                || !java.util.Arrays.equals(Files.readAllBytes(written), Files.readAllBytes(resource("fluxion_written.safetensors"))))
            fail("Fluxion's writer no longer produces the committed nn/src/test/resources/reference/safetensors/fluxion_written.safetensors; if the change "
                    + "is intended, copy nn/" + written + " there and check it with: " + PYTHON + " nn/" + SCRIPT + " --verify <file>");
    }

    /** Runs the PyTorch side live when Debian's python3 with torch is present (skipped otherwise). */
    @Test
    void pytorchReadsWhatFluxionWrites() throws Exception {
        Assumptions.assumeTrue(Files.isExecutable(Path.of(PYTHON)) && run(PYTHON, "-c", "import torch").exitCode == 0,
                PYTHON + " with torch is not installed");
        Path file = dir.resolve("fluxion.safetensors");
        try (Safetensors.Contents c = Safetensors.read(resource("torch_tensors.safetensors"))) {
            Safetensors.save(file, c.tensors(), c.metadata());
        }
        Result r = run(PYTHON, SCRIPT, "--verify", file.toString());
        assertEquals(0, r.exitCode, r.output);
        assertTrue(r.output.startsWith("ok: 14 tensors"), r.output);
    }

    private record Result(int exitCode, String output) {}

    private static Result run(String... command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(120, TimeUnit.SECONDS)) p.destroyForcibly();
        return new Result(p.exitValue(), out);
    }

    @Test
    void djlReadsWhatFluxionWrites() throws Exception {
        Path file = dir.resolve("fluxion.safetensors");
        Safetensors.Contents torch = Safetensors.read(resource("torch_tensors.safetensors"));
        Map<String, Tensor> tensors = torch.tensors();
        Safetensors.save(file, tensors, torch.metadata());
        NDList list;
        try (InputStream in = Files.newInputStream(file)) {
            list = NDList.decode(PassthroughNDManager.INSTANCE, in);
        }
        assertEquals(tensors.size(), list.size());
        for (NDArray a : list) {
            Tensor t = tensors.get(a.getName());
            assertEquals(SafetensorsHeader.code(t.dtype()), a.getDataType().asSafetensors(), a.getName());
            assertArrayEquals(java.util.Arrays.stream(t.shape()).asLongStream().toArray(), a.getShape().getShape(), a.getName());
            ByteBuffer b = a.toByteBuffer();
            byte[] raw = new byte[b.remaining()];
            b.get(raw);
            assertArrayEquals(bytes(t), raw, a.getName());
        }
    }

    @Test
    void readsWhatDjlWrites() throws Exception {
        Map<String, Tensor> tensors = Safetensors.load(resource("torch_tensors.safetensors"));
        NDList list = new NDList();
        tensors.forEach((name, t) -> {
            ByteBuffer b = ByteBuffer.wrap(bytes(t)).order(ByteOrder.LITTLE_ENDIAN);
            long[] shape = java.util.Arrays.stream(t.shape()).asLongStream().toArray();
            NDArray a = PassthroughNDManager.INSTANCE.create(b, new Shape(shape), DataType.fromSafetensors(SafetensorsHeader.code(t.dtype())));
            a.setName(name);
            list.add(a);
        });
        Path file = Files.write(dir.resolve("djl.safetensors"), list.encode(NDList.Encoding.SAFETENSORS));
        Map<String, Tensor> loaded = Safetensors.load(file);        // DJL pads no header and orders names by hash
        assertEquals(tensors.keySet(), loaded.keySet());
        tensors.forEach((name, t) -> assertSameTensor(name, t, loaded.get(name)));
        assertEquals(DType.BOOL, loaded.get("bool").dtype());
    }
}
