package dev.fluxion.nn.io;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Helpers shared by the io tests: raw tensor bytes, hand-made files, and refusal assertions. */
final class TestFiles {
    private TestFiles() {}

    /** The elements of t in row-major order as little-endian bytes. */
    static byte[] bytes(Tensor t) {
        Tensor c = t.contiguous();
        ByteBuffer b = ByteBuffer.allocate((int) c.numel() * c.dtype().byteSize());
        c.storage().readBytes(c.offset(), b);
        return b.array();
    }

    /** A tensor holding exactly these little-endian bytes. */
    static Tensor fromBytes(DType dtype, byte[] bytes, int... shape) {
        Tensor t = Tensor.empty(dtype, Device.CPU, shape);
        t.storage().writeBytes(0, ByteBuffer.wrap(bytes));
        return t;
    }

    /** Random bit patterns (NaNs with payloads, subnormals, anything); bool gets 0 or 1. */
    static Tensor randomBits(DType dtype, Random rng, int... shape) {
        Tensor t = Tensor.empty(dtype, Device.CPU, shape);
        byte[] b = new byte[(int) t.numel() * dtype.byteSize()];
        rng.nextBytes(b);
        if (dtype == DType.BOOL) for (int i = 0; i < b.length; i++) b[i] &= 1;
        t.storage().writeBytes(0, ByteBuffer.wrap(b));
        return t;
    }

    static void assertSameTensor(String name, Tensor expected, Tensor actual) {
        assertEquals(expected.dtype(), actual.dtype(), name + ": dtype");
        assertArrayEquals(expected.shape(), actual.shape(), name + ": shape " + Arrays.toString(actual.shape()));
        assertArrayEquals(bytes(expected), bytes(actual), name + ": bytes");
    }

    /** A safetensors file made by hand: header length, the header text as given (not padded), data. */
    static Path handMade(Path dir, String header, byte[] data) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h).put(data);
        return Files.write(Files.createTempFile(dir, "handmade", ".safetensors"), b.array());
    }

    /** Asserts that reading fails with a SafetensorsException naming the file and containing each fragment. */
    static SafetensorsException assertRefused(Path file, ThrowingRead read, String... fragments) {
        SafetensorsException e = assertThrows(SafetensorsException.class, read::run);
        assertTrue(e.getMessage().startsWith(file.toString() + ": "), "message names the file: " + e.getMessage());
        for (String f : fragments) assertTrue(e.getMessage().contains(f), "expected '" + f + "' in: " + e.getMessage());
        return e;
    }

    interface ThrowingRead {
        void run() throws IOException;
    }
}
