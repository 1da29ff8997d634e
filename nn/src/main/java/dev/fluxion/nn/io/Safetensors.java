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
import java.util.zip.CRC32C;

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
 * <p>Every file Fluxion writes carries a checksum in its {@code __metadata__} under {@value #CHECKSUM_KEY}:
 * the CRC32C (8 lowercase hex digits) of the header's canonical JSON without that key (compact, names sorted,
 * metadata first) followed by the data section. Loading verifies it when present and refuses a file whose
 * header content or data no longer match; files without one (other writers' files) load as before. Other
 * readers see one more metadata string. The checksum detects accidental damage (bit rot, a bad copy, a torn
 * write), not tampering: whoever can change the data can recompute it. {@link #readHeader(Path)} reads no
 * data and so verifies nothing (its header shows the key); {@link Contents#metadata()} leaves the key out.
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

    /** The {@code __metadata__} key of the checksum Fluxion writes into every file (see the class comment). */
    public static final String CHECKSUM_KEY = "fluxion.crc32c";
    private static final String CHECKSUM_PLACEHOLDER = "00000000";

    /** A validated header and where the data section starts in the file. */
    record Parsed(SafetensorsHeader header, long dataStart) {}

    public static void save(Path file, Map<String, ? extends Tensor> tensors) throws IOException {
        save(file, tensors, Map.of());
    }

    /**
     * Writes tensors (any device, any layout) and string metadata to file, atomically, with a checksum
     * ({@value #CHECKSUM_KEY}; one given in metadata is replaced).
     */
    public static void save(Path file, Map<String, ? extends Tensor> tensors, Map<String, String> metadata) throws IOException {
        SafetensorsHeader.layout(tensors, metadata);                       // argument errors before a file is created
        AtomicFile.write(file, ch -> write(ch, tensors, metadata));
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
            return readData(file, ch, readHeader(file, ch), device);
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
     * Creates and fills the tensors of a parsed header, verifying its checksum when it has one. On any failure
     * the tensors made so far are closed: nothing is half-loaded.
     */
    static Contents readData(Path file, FileChannel ch, Parsed parsed, Device device) throws IOException {
        SafetensorsHeader header = parsed.header();
        String recorded = header.metadata().get(CHECKSUM_KEY);
        if (recorded != null && !recorded.matches("[0-9a-f]{8}"))
            throw new SafetensorsException(file, "checksum " + CHECKSUM_KEY + " '" + recorded + "' is not 8 lowercase hex digits; the header is damaged");
        CRC32C checksum = recorded == null ? null : new CRC32C();
        if (checksum != null) checksum.update(header.canonical(CHECKSUM_KEY));
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
            if (checksum != null && !hex(checksum).equals(recorded))
                throw new SafetensorsException(file, "checksum mismatch: the file records crc32c " + recorded + " but its header and data hash to "
                        + hex(checksum) + "; the file is corrupt");
        } catch (IOException | RuntimeException | Error e) {
            loaded.values().forEach(Tensor::close);
            throw e;
        }
        Map<String, Tensor> inHeaderOrder = new LinkedHashMap<>();
        for (String name : header.tensors().keySet()) inHeaderOrder.put(name, loaded.get(name));
        return new Contents(inHeaderOrder, header.without(CHECKSUM_KEY).metadata());
    }

    /**
     * Writes tensors and metadata as a safetensors file with its checksum, in one pass over the tensors: the
     * header with a placeholder checksum of the same width, the data (hashed as it goes), then the header again.
     */
    static void write(FileChannel ch, Map<String, ? extends Tensor> tensors, Map<String, String> metadata) throws IOException {
        Map<String, String> meta = new LinkedHashMap<>(metadata);
        meta.remove(CHECKSUM_KEY);
        CRC32C crc = new CRC32C();
        crc.update(SafetensorsHeader.layout(tensors, meta).canonical(CHECKSUM_KEY));
        meta.put(CHECKSUM_KEY, CHECKSUM_PLACEHOLDER);
        SafetensorsHeader header = SafetensorsHeader.layout(tensors, meta);
        byte[] json = header.toBytes();
        TensorBytes.writeFully(ch, ByteBuffer.allocate(8 + json.length).order(ByteOrder.LITTLE_ENDIAN).putLong(json.length).put(json).flip());
        ByteBuffer chunk = TensorBytes.chunk(maxByteSize(header));
        long written = 0;
        for (var e : header.tensors().entrySet()) {
            if (e.getValue().begin() != written) throw new IllegalStateException("safetensors: header is not a packed layout at tensor '" + e.getKey() + "'");
            TensorBytes.forEachChunk(tensors.get(e.getKey()), chunk, b -> {
                crc.update(b.duplicate());
                TensorBytes.writeFully(ch, b);
            });
            written = e.getValue().end();
        }
        meta.put(CHECKSUM_KEY, hex(crc));
        byte[] signed = SafetensorsHeader.layout(tensors, meta).toBytes();
        if (signed.length != json.length) throw new IllegalStateException("safetensors: the checksum changed the header's length");   // same width by construction
        ByteBuffer b = ByteBuffer.wrap(signed);
        for (long pos = 8; b.hasRemaining(); ) pos += ch.write(b, pos);
    }

    private static String hex(CRC32C crc) {
        return String.format("%08x", crc.getValue());
    }

    static long maxByteSize(SafetensorsHeader header) {
        return header.tensors().values().stream().mapToLong(Entry::byteSize).max().orElse(0);
    }
}
