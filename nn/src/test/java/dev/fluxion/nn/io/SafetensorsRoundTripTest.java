package dev.fluxion.nn.io;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.Random;
import java.util.TreeMap;

import static dev.fluxion.nn.io.TestFiles.assertSameTensor;
import static dev.fluxion.nn.io.TestFiles.bytes;
import static dev.fluxion.nn.io.TestFiles.randomBits;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** save -> load gives back the same names, dtypes, shapes, bytes and metadata; the written layout is the documented one. */
class SafetensorsRoundTripTest {
    @TempDir Path dir;

    @Test
    void everyDtypeRoundTripsBitForBit() throws IOException {
        Random rng = new Random(7);
        Map<String, Tensor> tensors = new LinkedHashMap<>();
        for (DType d : DType.values()) tensors.put(d.toString(), randomBits(d, rng, 3, 5));   // any bits: NaN payloads, subnormals
        Map<String, String> metadata = Map.of("format", "pt", "note", "h\u00e9llo \u2713 \"q\"", "empty", "");
        Path file = dir.resolve("all.safetensors");
        Safetensors.save(file, tensors, metadata);

        try (Safetensors.Contents c = Safetensors.read(file)) {
            assertEquals(metadata, c.metadata());
            assertEquals(tensors.keySet(), c.tensors().keySet());
            tensors.forEach((name, t) -> assertSameTensor(name, t, c.tensors().get(name)));
        }
    }

    @Test
    void valuesSurviveForEveryDtype() throws IOException {
        Map<String, Tensor> tensors = Map.of(
                "f64", Tensor.of(new double[] {1.0 / 3, -0.0, Double.NaN, Double.NEGATIVE_INFINITY, Double.MIN_VALUE}, 5),
                "f32", Tensor.of(new float[] {(float) Math.PI, Float.MAX_VALUE, Float.MIN_VALUE}, 3),
                "f16", Tensor.of(new float[] {65504, 6e-8f, -2.5f}, 3).to(DType.FLOAT16),
                "bf16", Tensor.of(new float[] {1e-40f, 0.333984375f, -3}, 3).to(DType.BFLOAT16),
                "i64", Tensor.of(new long[] {Long.MIN_VALUE, Long.MAX_VALUE, (1L << 53) + 1}, 3),
                "i32", Tensor.of(new int[] {Integer.MIN_VALUE, Integer.MAX_VALUE, -7}, 3),
                "i8", Tensor.of(new int[] {-128, 127, -1}, 3).to(DType.INT8),
                "u8", Tensor.of(new int[] {0, 255, 128}, 3).to(DType.UINT8),
                "bool", Tensor.of(new boolean[] {true, false, true}, 3));
        Path file = dir.resolve("values.safetensors");
        Safetensors.save(file, tensors);
        Map<String, Tensor> loaded = Safetensors.load(file);
        tensors.forEach((name, t) -> {
            assertSameTensor(name, t, loaded.get(name));
            if (t.dtype().isFloatingPoint()) assertArrayEquals(t.toDoubleArray(), loaded.get(name).toDoubleArray(), name);
            else assertArrayEquals(t.toLongArray(), loaded.get(name).toLongArray(), name);
        });
        assertEquals(Long.MAX_VALUE, loaded.get("i64").toLongArray()[1]);
    }

    @Test
    void zeroDimAndEmptyTensors() throws IOException {
        Map<String, Tensor> tensors = Map.of(
                "scalar", Tensor.scalar(2.5),
                "scalar_i64", Tensor.scalar(-3, DType.INT64),
                "empty", Tensor.zeros(0),
                "empty_3d", Tensor.zeros(DType.BFLOAT16, 2, 0, 3),
                "after", Tensor.of(1f, 2f));
        Path file = dir.resolve("edge.safetensors");
        Safetensors.save(file, tensors);
        Map<String, Tensor> loaded = Safetensors.load(file);
        tensors.forEach((name, t) -> assertSameTensor(name, t, loaded.get(name)));
        assertArrayEquals(new int[0], loaded.get("scalar").shape());
        assertEquals(2.5, loaded.get("scalar").item());
        assertArrayEquals(new int[] {2, 0, 3}, loaded.get("empty_3d").shape());
        SafetensorsHeader.Entry e = Safetensors.readHeader(file).tensors().get("empty");
        assertEquals(e.begin(), e.end(), "an empty tensor spans no bytes");
    }

    @Test
    void emptyMapAndNoMetadata() throws IOException {
        Path file = dir.resolve("nothing.safetensors");
        Safetensors.save(file, Map.of());
        assertEquals(56, Files.size(file), "8-byte length + '{\"__metadata__\":{\"fluxion.crc32c\":\"xxxxxxxx\"}}' padded to 8");
        try (Safetensors.Contents c = Safetensors.read(file)) {
            assertTrue(c.tensors().isEmpty());
            assertTrue(c.metadata().isEmpty());
        }
    }

    @Test
    void viewsSaveTheirOwnElements() throws IOException {
        Tensor base = Tensor.arange(0, 24, 1, DType.FLOAT32).reshape(4, 6);
        Map<String, Tensor> views = Map.of(
                "transposed", base.t(),                  // non-contiguous
                "narrowed", base.narrow(0, 1, 2),        // contiguous, storage offset 6
                "column", base.select(1, 5));             // strided
        Path file = dir.resolve("views.safetensors");
        Safetensors.save(file, views);
        Map<String, Tensor> loaded = Safetensors.load(file);
        views.forEach((name, v) -> {
            assertArrayEquals(v.shape(), loaded.get(name).shape(), name);
            assertArrayEquals(v.toFloatArray(), loaded.get(name).toFloatArray(), name);
        });
    }

    @Test
    void largeTensorsMoveInChunks() throws IOException {
        int n = TensorBytes.CHUNK_BYTES / 8 * 3 + 5;             // 1.5 chunks of float64 plus a ragged tail
        Map<String, Tensor> tensors = Map.of("big", randomBits(DType.FLOAT64, new Random(1), n), "small", Tensor.of(1f));
        Path file = dir.resolve("big.safetensors");
        Safetensors.save(file, tensors);
        Map<String, Tensor> loaded = Safetensors.load(file);
        tensors.forEach((name, t) -> assertSameTensor(name, t, loaded.get(name)));
    }

    @Test
    void layoutIsSortedPackedPaddedAndDeterministic() throws IOException {
        Map<String, Tensor> a = new LinkedHashMap<>();
        a.put("z.weight", Tensor.ones(2, 3));
        a.put("a.bias", Tensor.zeros(DType.INT8, 5));
        a.put("m", Tensor.scalar(1, DType.FLOAT64));
        Map<String, Tensor> b = new TreeMap<>(a);                  // same content, other insertion order
        Map<String, String> meta = new LinkedHashMap<>(Map.of("y", "1", "x", "2"));
        Path fa = dir.resolve("a.safetensors"), fb = dir.resolve("b.safetensors");
        Safetensors.save(fa, a, meta);
        Safetensors.save(fb, b, new TreeMap<>(meta));
        byte[] file = Files.readAllBytes(fa);
        assertArrayEquals(file, Files.readAllBytes(fb), "same tensors and metadata give the same bytes");

        long n = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN).getLong();
        assertEquals(0, (8 + n) % 8, "header padded so the data starts 8-byte aligned");
        String header = new String(file, 8, (int) n, StandardCharsets.UTF_8);
        assertTrue(header.matches("\\{\"__metadata__\":\\{\"fluxion.crc32c\":\"[0-9a-f]{8}\",\"x\":\"2\",\"y\":\"1\"},.*"), header);
        assertTrue(header.stripTrailing().endsWith("}") && header.substring(header.stripTrailing().length()).isBlank(), "padding is spaces");

        JsonNode json = new ObjectMapper().readTree(header);
        List<String> names = new ArrayList<>();
        json.fieldNames().forEachRemaining(names::add);
        assertEquals(List.of("__metadata__", "a.bias", "m", "z.weight"), names);
        assertEquals("[0,5]", json.get("a.bias").get("data_offsets").toString());
        assertEquals("[5,13]", json.get("m").get("data_offsets").toString());
        assertEquals("[13,37]", json.get("z.weight").get("data_offsets").toString());
        assertEquals("[]", json.get("m").get("shape").toString());
        assertEquals("F64", json.get("m").get("dtype").asText());
        assertEquals(8 + n + 37, file.length, "data packed with no gaps");
    }

    @Test
    void readHeaderReadsNoData() throws IOException {
        Path file = dir.resolve("h.safetensors");
        Safetensors.save(file, Map.of("w", Tensor.zeros(DType.BFLOAT16, 4, 8)), Map.of("k", "v"));
        SafetensorsHeader h = Safetensors.readHeader(file);
        SafetensorsHeader.Entry w = h.tensors().get("w");
        assertEquals(DType.BFLOAT16, w.dtype());
        assertArrayEquals(new int[] {4, 8}, w.shape());
        assertEquals(64, w.byteSize());
        assertEquals(64, h.dataSize());
        assertEquals("v", h.metadata().get("k"));
        assertEquals(Set.of("k", Safetensors.CHECKSUM_KEY), h.metadata().keySet(), "the header shows the file's checksum");
    }

    @Test
    void refusesReservedNamesAndNullMetadata() {
        Path file = dir.resolve("bad.safetensors");
        var e = assertThrows(IllegalArgumentException.class, () -> Safetensors.save(file, Map.of("__metadata__", Tensor.of(1f))));
        assertTrue(e.getMessage().contains("reserved"), e.getMessage());
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("k", null);
        assertThrows(IllegalArgumentException.class, () -> Safetensors.save(file, Map.of("a", Tensor.of(1f)), meta));
        assertFalse(Files.exists(file));
        assertEquals(0, Arrays.stream(dir.toFile().list()).count(), "no temporary file left behind");
    }

    @Test
    void overwritesAnExistingFile() throws IOException {
        Path file = dir.resolve("w.safetensors");
        Safetensors.save(file, Map.of("a", Tensor.of(1f, 2f, 3f)));
        Safetensors.save(file, Map.of("b", Tensor.of(4f)));
        assertEquals(List.of("b"), List.copyOf(Safetensors.load(file).keySet()));
        assertArrayEquals(new String[] {"w.safetensors"}, dir.toFile().list());
        assertArrayEquals(new float[] {4}, Safetensors.load(file).get("b").toFloatArray());
        assertArrayEquals(bytes(Tensor.of(4f)), bytes(Safetensors.load(file).get("b")));
    }
}
