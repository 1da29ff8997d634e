package dev.fluxion.nn.io;

import dev.fluxion.nn.io.SafetensorsHeader.Entry;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.zip.Checksum;

import static java.nio.file.StandardOpenOption.READ;

/**
 * Reads and writes safetensors files, the format of Hugging Face and PyTorch checkpoints: an 8-byte
 * little-endian header length N, N bytes of UTF-8 JSON naming each tensor's dtype, shape and byte range,
 * then the raw little-endian data. Loading runs no code and validates the whole header (dtypes, sizes,
 * offsets tiling the data exactly) before it creates a tensor; a bad file raises a
 * {@link SafetensorsException} naming the file and the problem. Writes are atomic (temporary file, fsync,
 * rename), in a deterministic layout: tensors sorted by name, header padded with spaces to 8 bytes.
 * Data moves in bounded chunks, so a file is never held twice in memory.
 *
 * <pre>{@code
 * Safetensors.save(Path.of("model.safetensors"), Map.of("fc.weight", w, "fc.bias", b), Map.of("format", "pt"));
 * Map<String, Tensor> state = Safetensors.load(Path.of("model.safetensors"));
 * try (Safetensors.Contents c = Safetensors.read(Path.of("model.safetensors"), Device.CPU)) {
 *     System.out.println(c.metadata() + " " + c.tensors().keySet());
 * }
 * }</pre>
 */
public final class Safetensors {
    private Safetensors() {}

    /** The tensors of a file in header order, and its {@code __metadata__}; closing closes the tensors. */
    public record Contents(Map<String, Tensor> tensors, Map<String, String> metadata) implements AutoCloseable {
        public Contents {
            tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
            metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
        }

        @Override public void close() { tensors.values().forEach(Tensor::close); }
    }

    /** A validated header and where the data section starts in the file. */
    record Parsed(SafetensorsHeader header, long dataStart) {}

    public static void save(Path file, Map<String, ? extends Tensor> tensors) throws IOException {
        save(file, tensors, Map.of());
    }

    /** Writes tensors (any device, any layout) and string metadata to file, atomically. */
    public static void save(Path file, Map<String, ? extends Tensor> tensors, Map<String, String> metadata) throws IOException {
        SafetensorsHeader header = SafetensorsHeader.layout(tensors, metadata);
        AtomicFile.write(file, ch -> write(ch, header, tensors));
    }

    /** The tensors of file, on the CPU. */
    public static Map<String, Tensor> load(Path file) throws IOException {
        return read(file, Device.CPU).tensors();
    }

    public static Contents read(Path file) throws IOException {
        return read(file, Device.CPU);
    }

    /** The tensors of file, created on device, and its metadata. */
    public static Contents read(Path file, Device device) throws IOException {
        try (FileChannel ch = FileChannel.open(file, READ)) {
            return readData(file, ch, readHeader(file, ch), device, null);
        }
    }

    /** The validated header of file, without reading any tensor data. */
    public static SafetensorsHeader readHeader(Path file) throws IOException {
        try (FileChannel ch = FileChannel.open(file, READ)) {
            return readHeader(file, ch).header();
        }
    }

    static Parsed readHeader(Path file, FileChannel ch) throws IOException {
        long size = ch.size();
        if (size < 8) throw new SafetensorsException(file, "file has " + size + " bytes, too few for the 8-byte header length");
        ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
        TensorBytes.readFully(file, ch, len, 0);
        long n = len.getLong(0);                                  // unsigned: a negative long is >= 2^63
        if (n < 0 || n > size - 8)
            throw new SafetensorsException(file, "header length " + Long.toUnsignedString(n) + " is larger than the rest of the file (" + (size - 8)
                    + " bytes); the file is truncated or not safetensors");
        if (n > SafetensorsHeader.MAX_HEADER_BYTES)
            throw new SafetensorsException(file, "header length " + n + " exceeds the limit of " + SafetensorsHeader.MAX_HEADER_BYTES + " bytes");
        ByteBuffer json = ByteBuffer.allocate((int) n);
        TensorBytes.readFully(file, ch, json, 8);
        return new Parsed(SafetensorsHeader.parse(file, json.array(), size - 8 - n), 8 + n);
    }

    /**
     * Creates and fills the tensors of a parsed header; feeds the data section, front to back, to checksum
     * (may be null). On any failure the tensors made so far are closed: nothing is half-loaded.
     */
    static Contents readData(Path file, FileChannel ch, Parsed parsed, Device device, Checksum checksum) throws IOException {
        SafetensorsHeader header = parsed.header();
        List<Map.Entry<String, Entry>> byOffset = new ArrayList<>(header.tensors().entrySet());
        byOffset.sort(Comparator.comparingLong(e -> e.getValue().begin()));
        Map<String, Tensor> loaded = new HashMap<>();
        try {
            ByteBuffer chunk = TensorBytes.chunk(maxByteSize(header));
            for (var e : byOffset) {
                Entry entry = e.getValue();
                Tensor t = Tensor.empty(entry.dtype(), device, entry.shape());
                loaded.put(e.getKey(), t);
                TensorBytes.fill(t, ch, parsed.dataStart() + entry.begin(), chunk, checksum, file);
            }
        } catch (IOException | RuntimeException | Error e) {
            loaded.values().forEach(Tensor::close);
            throw e;
        }
        Map<String, Tensor> inHeaderOrder = new LinkedHashMap<>();
        for (String name : header.tensors().keySet()) inHeaderOrder.put(name, loaded.get(name));
        return new Contents(inHeaderOrder, header.metadata());
    }

    /** Writes a file whose header is a {@link SafetensorsHeader#layout} of tensors. */
    static void write(FileChannel ch, SafetensorsHeader header, Map<String, ? extends Tensor> tensors) throws IOException {
        byte[] json = header.toBytes();
        TensorBytes.writeFully(ch, ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json).flip());
        ByteBuffer chunk = TensorBytes.chunk(maxByteSize(header));
        long written = 0;
        for (var e : header.tensors().entrySet()) {
            if (e.getValue().begin() != written) throw new IllegalStateException("safetensors: header is not a packed layout at tensor '" + e.getKey() + "'");
            TensorBytes.forEachChunk(tensors.get(e.getKey()), chunk, b -> TensorBytes.writeFully(ch, b));
            written = e.getValue().end();
        }
    }

    static long maxByteSize(SafetensorsHeader header) {
        return header.tensors().values().stream().mapToLong(Entry::byteSize).max().orElse(0);
    }
}
