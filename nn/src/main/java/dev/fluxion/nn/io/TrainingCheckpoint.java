package dev.fluxion.nn.io;

import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

import static java.nio.file.StandardOpenOption.READ;

/**
 * A training state in one safetensors file: named sections of tensors ("model", "optim", "sched", "rng"),
 * the step, and string metadata. Tensors are stored as {@code <section>.<name>} ("model.fc1.weight"), so the
 * file opens in any safetensors reader. {@code __metadata__} records the step, the section list (empty
 * sections survive) and a CRC32C over the header's content and all data; {@link #load} verifies it and
 * refuses a corrupted file (the checksum every {@link Safetensors} file carries, required here). {@link #save}
 * is atomic: a failed or interrupted save leaves the previous file as it was.
 *
 * <pre>{@code
 * var ckpt = new TrainingCheckpoint(step, Map.of("model", model.stateDict(), "optim", opt.stateDict()), Map.of("run", "gpt-small"));
 * ckpt.save(Path.of("runs/1/checkpoint.safetensors"));
 * TrainingCheckpoint resumed = TrainingCheckpoint.load(Path.of("runs/1/checkpoint.safetensors"));
 * model.loadStateDict(resumed.section("model"));
 * }</pre>
 *
 * @param step     the number of optimizer steps taken, >= 0
 * @param sections section name (letters, digits, '_' or '-') -> tensor name -> tensor; kept sorted by section name
 * @param metadata free-form strings; keys starting with "fluxion." are reserved
 */
public record TrainingCheckpoint(long step, Map<String, Map<String, Tensor>> sections, Map<String, String> metadata) {
    static final String FORMAT_KEY = "fluxion.format";
    static final String FORMAT = "training-checkpoint/1";
    static final String STEP_KEY = "fluxion.step";
    static final String SECTIONS_KEY = "fluxion.sections";
    static final String CHECKSUM_KEY = Safetensors.CHECKSUM_KEY;
    private static final String RESERVED_PREFIX = "fluxion.";
    private static final Pattern SECTION_NAME = Pattern.compile("[A-Za-z0-9_-]+");

    public TrainingCheckpoint {
        if (step < 0) throw new IllegalArgumentException("TrainingCheckpoint: step " + step + " must be >= 0");
        Map<String, Map<String, Tensor>> copy = new TreeMap<>();            // sorted, so equal states give equal files
        sections.forEach((section, tensors) -> {
            if (section == null || !SECTION_NAME.matcher(section).matches())
                throw new IllegalArgumentException("TrainingCheckpoint: section name '" + section + "' must be letters, digits, '_' or '-'");
            tensors.forEach((name, t) -> {
                if (name == null || name.isEmpty() || t == null)
                    throw new IllegalArgumentException("TrainingCheckpoint: section '" + section + "' has an empty name or a null tensor (" + name + ")");
            });
            copy.put(section, Collections.unmodifiableMap(new LinkedHashMap<>(tensors)));
        });
        metadata.forEach((k, v) -> {
            if (k == null || v == null) throw new IllegalArgumentException("TrainingCheckpoint: metadata must map strings to strings, got " + k + " -> " + v);
            if (k.startsWith(RESERVED_PREFIX)) throw new IllegalArgumentException("TrainingCheckpoint: metadata key '" + k + "' uses the reserved prefix " + RESERVED_PREFIX);
        });
        sections = Collections.unmodifiableMap(copy);
        metadata = Collections.unmodifiableMap(new LinkedHashMap<>(metadata));
    }

    /** The tensors of one section. */
    public Map<String, Tensor> section(String name) {
        Map<String, Tensor> s = sections.get(name);
        if (s == null) throw new IllegalArgumentException("TrainingCheckpoint.section: no section '" + name + "'; the checkpoint has " + sections.keySet());
        return s;
    }

    /** Writes this checkpoint to file atomically (temporary file in the same directory, fsync, rename, directory fsync). */
    public void save(Path file) throws IOException {
        AtomicFile.write(file, this::write);
    }

    public static TrainingCheckpoint load(Path file) throws IOException {
        return load(file, Device.CPU);
    }

    /** Reads a checkpoint written by {@link #save}, its tensors created on device, after checking its format and checksum. */
    public static TrainingCheckpoint load(Path file, Device device) throws IOException {
        try (FileChannel ch = FileChannel.open(file, READ)) {
            Safetensors.Parsed parsed = Safetensors.readHeader(file, ch);
            SafetensorsHeader header = parsed.header();
            Map<String, String> meta = header.metadata();
            String format = meta.get(FORMAT_KEY);
            if (!FORMAT.equals(format))
                throw new SafetensorsException(file, format == null
                        ? "not a Fluxion training checkpoint (no " + FORMAT_KEY + " in __metadata__); read plain safetensors files with Safetensors.read"
                        : "checkpoint format '" + format + "' is not supported (this version reads " + FORMAT + ")");
            required(file, meta, CHECKSUM_KEY);                     // verified by readData
            long step = parseStep(file, required(file, meta, STEP_KEY));
            List<String> sectionNames = sectionNames(file, required(file, meta, SECTIONS_KEY));
            for (String name : header.tensors().keySet()) {
                int dot = name.indexOf('.');
                if (dot < 1 || !sectionNames.contains(name.substring(0, dot)))
                    throw new SafetensorsException(file, "tensor '" + name + "' is in none of the sections " + sectionNames + " that " + SECTIONS_KEY + " lists");
            }
            Safetensors.Contents contents = Safetensors.readData(file, ch, parsed, device);
            Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
            for (String s : sectionNames) sections.put(s, new LinkedHashMap<>());
            contents.tensors().forEach((name, t) -> {
                int dot = name.indexOf('.');
                sections.get(name.substring(0, dot)).put(name.substring(dot + 1), t);
            });
            Map<String, String> user = new LinkedHashMap<>(meta);
            user.keySet().removeIf(k -> k.startsWith(RESERVED_PREFIX));
            return new TrainingCheckpoint(step, sections, user);
        }
    }

    /** Closes every tensor: for a loaded checkpoint once its values have been copied into the model and optimizer. */
    public void closeTensors() {
        sections.values().forEach(s -> s.values().forEach(Tensor::close));
    }

    /** The file content: the sections' tensors flattened, the reserved metadata, and (by Safetensors.write) the checksum. */
    void write(FileChannel ch) throws IOException {
        Map<String, Tensor> flat = new LinkedHashMap<>();
        sections.forEach((section, tensors) -> tensors.forEach((name, t) -> flat.put(section + "." + name, t)));
        Map<String, String> meta = new TreeMap<>(metadata);
        meta.put(FORMAT_KEY, FORMAT);
        meta.put(STEP_KEY, Long.toString(step));
        meta.put(SECTIONS_KEY, String.join(",", sections.keySet()));
        Safetensors.write(ch, flat, meta);
    }

    private static String required(Path file, Map<String, String> meta, String key) throws SafetensorsException {
        String v = meta.get(key);
        if (v == null) throw new SafetensorsException(file, "checkpoint metadata has no " + key);
        return v;
    }

    private static long parseStep(Path file, String text) throws SafetensorsException {
        try {
            long step = Long.parseLong(text);
            if (step >= 0) return step;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new SafetensorsException(file, STEP_KEY + " '" + text + "' is not a non-negative integer");
    }

    private static List<String> sectionNames(Path file, String text) throws SafetensorsException {
        List<String> names = new ArrayList<>();
        if (text.isEmpty()) return names;
        for (String s : text.split(",", -1)) {
            if (!SECTION_NAME.matcher(s).matches() || names.contains(s))
                throw new SafetensorsException(file, SECTIONS_KEY + " '" + text + "' is not a comma-separated list of distinct section names");
            names.add(s);
        }
        return names;
    }
}
