package dev.fluxion.nn.io;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.exc.StreamConstraintsException;
import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.NullNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The JSON header of a safetensors file: for each tensor its dtype, shape and byte range in the data
 * section (the bytes after the header), plus optional string metadata ({@code "__metadata__"}).
 * Parsing validates the whole header against the data size before any tensor is created.
 *
 * <pre>{@code
 * SafetensorsHeader h = Safetensors.readHeader(Path.of("model.safetensors"));   // reads no tensor data
 * h.tensors().forEach((name, e) -> System.out.println(name + " " + e.dtype() + " " + Arrays.toString(e.shape())));
 * }</pre>
 */
public record SafetensorsHeader(Map<String, Entry> tensors, Map<String, String> metadata) {
    /** The largest header read, as in the reference implementation: a guard against absurd allocations. */
    public static final long MAX_HEADER_BYTES = 100_000_000;
    /** The longest tensor name or metadata key read, in characters (real names are under 200). */
    public static final int MAX_NAME_CHARS = 4096;
    /** The most tensors one header may list (large checkpoints have a few thousand per file, whole models up to ~100k). */
    public static final int MAX_TENSORS = 1 << 20;
    /** The most dimensions a tensor may have. */
    public static final int MAX_RANK = 64;
    /** How deep a header may nest: the top object, a tensor's object, its shape array. */
    static final int MAX_DEPTH = 3;
    static final String METADATA_KEY = "__metadata__";
    private static final Set<String> ENTRY_FIELDS = Set.of("dtype", "shape", "data_offsets");
    /** The parser enforces the limits while it reads, so a hostile header cannot make it build anything large or deep. */
    private static final ObjectMapper JSON = new ObjectMapper(JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(MAX_DEPTH)
                    .maxNameLength(MAX_NAME_CHARS)
                    .maxNumberLength(64)
                    .maxStringLength((int) MAX_HEADER_BYTES)
                    .build())
            .build());

    /** One tensor: dtype, shape, and bytes [begin, end) of the data section. */
    public record Entry(DType dtype, int[] shape, long begin, long end) {
        public Entry {
            shape = shape.clone();
        }

        @Override public int[] shape() { return shape.clone(); }

        public long byteSize() { return end - begin; }

        @Override public boolean equals(Object o) {
            return o instanceof Entry e && e.dtype == dtype && Arrays.equals(e.shape, shape) && e.begin == begin && e.end == end;
        }

        @Override public int hashCode() { return Objects.hash(dtype, Arrays.hashCode(shape), begin, end); }

        @Override public String toString() { return code(dtype) + Shape.str(shape) + "@[" + begin + ", " + end + ")"; }
    }

    public SafetensorsHeader {
        for (var e : tensors.entrySet())
            if (e.getKey() == null || e.getValue() == null) throw new IllegalArgumentException("SafetensorsHeader: null tensor name or entry");
        for (var e : metadata.entrySet())
            if (e.getKey() == null || e.getValue() == null)
                throw new IllegalArgumentException("SafetensorsHeader: metadata must map strings to strings, got " + e.getKey() + " -> " + e.getValue());
        tensors = Collections.unmodifiableMap(new LinkedHashMap<>(tensors));
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** This header without one metadata key. */
    SafetensorsHeader without(String metadataKey) {
        if (!metadata.containsKey(metadataKey)) return this;
        Map<String, String> m = new LinkedHashMap<>(metadata);
        m.remove(metadataKey);
        return new SafetensorsHeader(tensors, m);
    }

    /** The size of the data section: the end of the last tensor. */
    public long dataSize() {
        return tensors.values().stream().mapToLong(Entry::end).max().orElse(0);
    }

    /** The safetensors dtype code of a Fluxion dtype: F64, F32, F16, BF16, I64, I32, I8, U8 or BOOL. */
    public static String code(DType dtype) {
        return switch (dtype) {
            case FLOAT64 -> "F64";
            case FLOAT32 -> "F32";
            case FLOAT16 -> "F16";
            case BFLOAT16 -> "BF16";
            case INT64 -> "I64";
            case INT32 -> "I32";
            case INT8 -> "I8";
            case UINT8 -> "U8";
            case BOOL -> "BOOL";
        };
    }

    /** The Fluxion dtype of a safetensors dtype code, or null when Fluxion has none (F8_E4M3, U16, ...). */
    static DType dtypeOf(String code) {
        for (DType d : DType.values()) if (code(d).equals(code)) return d;
        return null;
    }

    // ---------------------------------------------------------------- writing

    /** The layout a writer uses: tensors sorted by name, packed back to back from byte 0. */
    static SafetensorsHeader layout(Map<String, ? extends Tensor> tensors, Map<String, String> metadata) {
        if (tensors.size() > MAX_TENSORS) throw new IllegalArgumentException("safetensors: " + tensors.size() + " tensors, more than the limit of " + MAX_TENSORS + " a reader accepts");
        for (String k : metadata.keySet())
            if (k != null && k.length() > MAX_NAME_CHARS)
                throw new IllegalArgumentException("safetensors: metadata key of " + k.length() + " characters, more than the limit of " + MAX_NAME_CHARS);
        Map<String, Entry> entries = new LinkedHashMap<>();
        long offset = 0;
        for (String name : new TreeSet<>(tensors.keySet())) {
            Tensor t = tensors.get(name);
            if (t == null) throw new IllegalArgumentException("safetensors: tensor '" + name + "' is null");
            if (name.isEmpty() || name.length() > MAX_NAME_CHARS)
                throw new IllegalArgumentException("safetensors: tensor name of " + name.length() + " characters; names must have 1 to " + MAX_NAME_CHARS);
            if (name.equals(METADATA_KEY)) throw new IllegalArgumentException("safetensors: the name " + METADATA_KEY + " is reserved for the header's metadata");
            long bytes = (long) t.numel() * t.dtype().byteSize();
            entries.put(name, new Entry(t.dtype(), t.shape(), offset, offset + bytes));
            offset += bytes;
        }
        return new SafetensorsHeader(entries, metadata);
    }

    /** The header as written: compact JSON, metadata first, padded with spaces to a multiple of 8 bytes (as the reference writer). */
    byte[] toBytes() {
        byte[] json = json(tensors, metadata);
        byte[] out = Arrays.copyOf(json, json.length + (8 - json.length % 8) % 8);
        Arrays.fill(out, json.length, out.length, (byte) ' ');
        return out;
    }

    /** A form that depends only on the header's content (not on whitespace or order), without one metadata key: what checksums cover. */
    byte[] canonical(String excludedMetadataKey) {
        Map<String, String> meta = new TreeMap<>(metadata);
        meta.remove(excludedMetadataKey);
        return json(new TreeMap<>(tensors), meta);
    }

    private static byte[] json(Map<String, Entry> tensors, Map<String, String> metadata) {
        ObjectNode root = JSON.createObjectNode();
        if (!metadata.isEmpty()) {
            ObjectNode m = root.putObject(METADATA_KEY);
            new TreeMap<>(metadata).forEach(m::put);
        }
        tensors.forEach((name, e) -> {
            ObjectNode o = root.putObject(name);
            o.put("dtype", code(e.dtype()));
            ArrayNode shape = o.putArray("shape");
            for (int d : e.shape) shape.add(d);
            o.putArray("data_offsets").add(e.begin()).add(e.end());
        });
        try {
            return JSON.writeValueAsBytes(root);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("safetensors: cannot encode header", e);   // a tree of strings and numbers always encodes
        }
    }

    // ---------------------------------------------------------------- reading

    /**
     * Parses and validates header bytes: UTF-8 JSON object, no duplicate names, known dtypes, shapes and
     * byte sizes that agree, and offsets that tile the data section of {@code dataSize} bytes exactly.
     */
    static SafetensorsHeader parse(Path file, byte[] bytes, long dataSize) throws SafetensorsException {
        return parse(file, bytes, dataSize, MAX_TENSORS);
    }

    /** As {@link #parse(Path, byte[], long)} with another tensor-count limit (tests use a small one). */
    static SafetensorsHeader parse(Path file, byte[] bytes, long dataSize, int maxTensors) throws SafetensorsException {
        String text;
        try {
            text = StandardCharsets.UTF_8.newDecoder().decode(ByteBuffer.wrap(bytes)).toString();
        } catch (CharacterCodingException e) {
            throw new SafetensorsException(file, "header is not valid UTF-8", e);
        }
        if (!text.startsWith("{")) throw new SafetensorsException(file, "header does not begin with '{' (it must be a JSON object)");
        Map<String, JsonNode> fields;
        try {
            fields = fields(file, text, maxTensors);
        } catch (StreamConstraintsException e) {
            throw new SafetensorsException(file, "header " + limitProblem(e), e);
        } catch (JsonProcessingException e) {
            throw new SafetensorsException(file, "header is not valid JSON: " + e.getOriginalMessage() + at(e), e);
        } catch (SafetensorsException e) {
            throw e;
        } catch (IOException e) {
            throw new SafetensorsException(file, "header could not be parsed: " + e.getMessage(), e);
        }
        Map<String, String> metadata = new LinkedHashMap<>();
        Map<String, Entry> entries = new LinkedHashMap<>();
        for (var f : fields.entrySet()) {
            if (f.getKey().equals(METADATA_KEY)) metadata = metadata(file, f.getValue());
            else entries.put(f.getKey(), entry(file, f.getKey(), f.getValue(), dataSize));
        }
        checkTiling(file, entries, dataSize);
        return new SafetensorsHeader(entries, metadata);
    }

    /** The top-level object's fields in file order; duplicates refused (a JSON map would silently keep the last). */
    private static Map<String, JsonNode> fields(Path file, String text, int maxTensors) throws IOException {
        Map<String, JsonNode> fields = new LinkedHashMap<>();
        try (JsonParser p = JSON.createParser(text)) {
            if (p.nextToken() != JsonToken.START_OBJECT) throw new SafetensorsException(file, "header is not a JSON object");
            while (p.nextToken() == JsonToken.FIELD_NAME) {
                String name = p.currentName();
                String what = name.equals(METADATA_KEY) ? METADATA_KEY : "tensor '" + name + "'";
                if (name.isEmpty()) throw new SafetensorsException(file, "empty tensor name in header");
                p.nextToken();
                JsonNode value;
                try {
                    value = p.readValueAsTree();
                } catch (StreamConstraintsException e) {
                    throw new SafetensorsException(file, what + ": " + limitProblem(e), e);
                }
                if (fields.put(name, value == null ? NullNode.getInstance() : value) != null)
                    throw new SafetensorsException(file, "duplicate tensor name '" + name + "' in header");
                if (fields.size() > maxTensors + (fields.containsKey(METADATA_KEY) ? 1 : 0))
                    throw new SafetensorsException(file, "header lists more than " + maxTensors + " tensors, the limit");
            }
            if (p.nextToken() != null) throw new SafetensorsException(file, "header has characters after its JSON object");
        }
        return fields;
    }

    private static Map<String, String> metadata(Path file, JsonNode node) throws SafetensorsException {
        if (node.isNull()) return new LinkedHashMap<>();                  // the reference writer's "no metadata" (a Rust None)
        if (!node.isObject()) throw new SafetensorsException(file, METADATA_KEY + " must be a JSON object of strings, got " + node);
        Map<String, String> out = new LinkedHashMap<>();
        for (var it = node.fields(); it.hasNext(); ) {
            var f = it.next();
            if (!f.getValue().isTextual())
                throw new SafetensorsException(file, METADATA_KEY + " must map strings to strings, but '" + f.getKey() + "' maps to " + f.getValue());
            out.put(f.getKey(), f.getValue().textValue());
        }
        return out;
    }

    private static Entry entry(Path file, String name, JsonNode n, long dataSize) throws SafetensorsException {
        String what = "tensor '" + name + "'";
        if (!n.isObject()) throw new SafetensorsException(file, what + " must be a JSON object with dtype, shape and data_offsets, got " + n);
        for (Iterator<String> it = n.fieldNames(); it.hasNext(); ) {
            String f = it.next();
            if (!ENTRY_FIELDS.contains(f)) throw new SafetensorsException(file, what + " has an unknown field '" + f + "' (expected dtype, shape, data_offsets)");
        }
        JsonNode d = n.get("dtype");
        if (d == null || !d.isTextual()) throw new SafetensorsException(file, what + ": dtype must be a string, got " + d);
        DType dtype = dtypeOf(d.textValue());
        if (dtype == null)
            throw new SafetensorsException(file, what + ": unknown dtype '" + d.textValue() + "' (Fluxion reads F64, F32, F16, BF16, I64, I32, I8, U8, BOOL)");
        long[] dims = naturals(file, what, "shape", n.get("shape"), -1);
        if (dims.length > MAX_RANK) throw new SafetensorsException(file, what + ": shape has " + dims.length + " dimensions, more than the limit of " + MAX_RANK + " dimensions");
        long[] off = naturals(file, what, "data_offsets", n.get("data_offsets"), 2);
        int[] shape = new int[dims.length];
        long numel = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] > Integer.MAX_VALUE) throw new SafetensorsException(file, what + ": dimension " + dims[i] + " of shape " + Arrays.toString(dims) + " exceeds 2^31-1");
            shape[i] = (int) dims[i];
            numel = dims[i] != 0 && numel > (1L << 61) / dims[i] ? 1L << 61 : numel * dims[i];   // saturates above the limit, never overflows
        }
        if (numel > 1L << 60)                                // so that its byte size (8 bytes an element at most) fits a long
            throw new SafetensorsException(file, what + ": shape " + Arrays.toString(dims) + " has more than 2^60 elements, Fluxion's limit per tensor");
        String range = "data_offsets [" + off[0] + ", " + off[1] + "]";
        if (off[0] > off[1]) throw new SafetensorsException(file, what + ": " + range + " end before they begin");
        if (off[1] > dataSize)
            throw new SafetensorsException(file, what + ": " + range + " run past the end of the data section (" + dataSize + " bytes); the file is truncated or the offsets are wrong");
        long expected = numel * dtype.byteSize();
        if (off[1] - off[0] != expected)
            throw new SafetensorsException(file, what + ": " + code(dtype) + " " + Shape.str(shape) + " needs " + numel + " x " + dtype.byteSize() + " = " + expected
                    + " bytes, but " + range + " span " + (off[1] - off[0]));
        return new Entry(dtype, shape, off[0], off[1]);
    }

    /** A JSON array of non-negative integers (of the given length unless it is -1). */
    private static long[] naturals(Path file, String what, String field, JsonNode n, int length) throws SafetensorsException {
        String problem = what + ": " + field + " must be an array of " + (length < 0 ? "" : length + " ") + "non-negative integers, got " + n;
        if (n == null || !n.isArray() || (length >= 0 && n.size() != length)) throw new SafetensorsException(file, problem);
        long[] out = new long[n.size()];
        for (int i = 0; i < out.length; i++) {
            JsonNode v = n.get(i);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) throw new SafetensorsException(file, problem);
            out[i] = v.longValue();
        }
        return out;
    }

    /** In offset order, each tensor must begin where the previous one ended, and the last end where the data does. */
    private static void checkTiling(Path file, Map<String, Entry> entries, long dataSize) throws SafetensorsException {
        List<Map.Entry<String, Entry>> byOffset = new ArrayList<>(entries.entrySet());
        byOffset.sort(Comparator.comparingLong((Map.Entry<String, Entry> e) -> e.getValue().begin()).thenComparingLong(e -> e.getValue().end()));
        long next = 0;
        String previous = null;
        for (var e : byOffset) {
            long begin = e.getValue().begin();
            if (begin < next)
                throw new SafetensorsException(file, "tensors '" + previous + "' " + rangeOf(entries.get(previous)) + " and '" + e.getKey() + "' "
                        + rangeOf(e.getValue()) + " overlap");
            if (begin > next) throw new SafetensorsException(file, "bytes [" + next + ", " + begin + ") of the data section belong to no tensor");
            next = e.getValue().end();
            previous = e.getKey();
        }
        if (next != dataSize)
            throw new SafetensorsException(file, "the data section has " + dataSize + " bytes but the tensors cover only " + next + " (trailing bytes)");
    }

    /** A parser limit that was hit, in words (Jackson's message names its own setting, not ours). */
    private static String limitProblem(StreamConstraintsException e) {
        String m = String.valueOf(e.getOriginalMessage());
        String detail = " (" + m.replaceAll(", from `StreamReadConstraints[^)]*`", "") + ")";
        if (m.contains("nesting depth"))
            return "nests deeper than " + MAX_DEPTH + " levels, the limit (object, tensor, shape)" + detail;
        if (m.contains("Name length"))
            return "has a name longer than " + MAX_NAME_CHARS + " characters, the limit" + detail;
        if (m.contains("Number value length")) return "has a number with too many digits, over the limit" + detail;
        return "exceeds a parser limit" + detail;
    }

    /** " (at character N)", or nothing when the parser knows no location (some of its errors have none). */
    private static String at(JsonProcessingException e) {
        return e.getLocation() == null ? "" : " (at character " + e.getLocation().getCharOffset() + ")";
    }

    private static String rangeOf(Entry e) { return "[" + e.begin() + ", " + e.end() + ")"; }
}
