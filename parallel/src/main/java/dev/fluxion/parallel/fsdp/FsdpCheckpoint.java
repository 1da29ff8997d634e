package dev.fluxion.parallel.fsdp;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.io.Safetensors;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * Sharded checkpoints of an FSDP model and its optimizer that load on any number of ranks (PyTorch's
 * distributed checkpoint, in safetensors). {@code dir/step-<k>/} holds one {@code shard-<r>-of-<n>.safetensors}
 * per shard rank (rows [r * chunkRows, ...) of every parameter and of every optimizer tensor laid out like
 * it, without padding; optimizer scalars and settings in every file) and one {@code meta.safetensors}
 * written last by rank 0, holding the step, each parameter's shape and rows per shard, and the SHA-256 of
 * every shard file. Each file is written atomically; a step directory without its metadata is incomplete
 * and ignored. Loading checks the checksums, joins the rows of the old shards and cuts this rank's rows
 * for the new sharding, so a checkpoint saved with N ranks loads with M.
 *
 * <pre>{@code
 * FsdpCheckpoint.save(dir, step, fsdp, opt);                   // every rank calls it
 * long step = FsdpCheckpoint.loadLatest(dir, fsdp, opt).orElse(0L);
 * FsdpCheckpoint.exportFull(file, fsdp);                       // one file a single-process model loads
 * }</pre>
 */
public final class FsdpCheckpoint {
    static final String META = "meta.safetensors", FORMAT = "fluxion-fsdp/1";

    private FsdpCheckpoint() {}

    /**
     * Writes this rank's shards and (shard rank 0 of the first replica) the metadata; a collective over the
     * world. Under FSDP x TP (mesh ("dp", "tp")) each tp coordinate holds different pieces and must pass its
     * own dir. Returns the step directory.
     */
    public static Path save(Path dir, long step, FullyShardedDataParallel fsdp, Optimizer<?, ?> opt) throws IOException {
        Groups g = fsdp.groups();
        Path stepDir = dir.resolve(String.format("step-%09d", step));
        Files.createDirectories(stepDir);
        int n = g.shardSize(), r = g.shardRank();
        boolean writer = g.replicate() == null || g.replicate().rank() == 0;   // one replica writes
        Map<String, String> meta = new TreeMap<>();
        meta.put("format", FORMAT);
        meta.put("step", Long.toString(step));
        meta.put("shards", Integer.toString(n));
        if (writer) {
            Map<String, Tensor> tensors = new LinkedHashMap<>();
            try (var scope = Scope.open(); var off = Autodiff.noGrad()) {
                for (ShardedParam p : params(fsdp)) {
                    tensors.put("param." + p.name, validRows(p, p.shard.detach(), r));
                    meta.put("shape." + p.name, Arrays.toString(p.shape));
                    meta.put("chunkRows." + p.name, Integer.toString(p.chunkRows));
                }
                if (opt != null) tensors.putAll(optimizerTensors(fsdp, opt, r, meta));
                if (r == 0) for (var b : fsdp.module().namedBuffers().entrySet()) tensors.put("buffer." + b.getKey(), b.getValue());
                Safetensors.save(stepDir.resolve(shardFile(r, n)), tensors, meta);
            }
        }
        g.world().barrier().waitFor();
        if (writer && r == 0) {   // rank 0 of the writing replica (not world rank 0: under FSDP x TP each tp rank saves its own directory)
            for (int k = 0; k < n; k++) meta.put("sha256." + shardFile(k, n), sha256(stepDir.resolve(shardFile(k, n))));
            Safetensors.save(stepDir.resolve(META), Map.of(), meta);
        }
        g.world().barrier().waitFor();
        return stepDir;
    }

    /** The newest complete checkpoint under dir (the one with the highest step that has its metadata). */
    public static Optional<Path> latest(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return Optional.empty();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("step-") && Files.exists(p.resolve(META))).max(Path::compareTo);
        }
    }

    /** Loads the newest complete checkpoint under dir, if any; returns its step. Every rank calls it. */
    public static Optional<Long> loadLatest(Path dir, FullyShardedDataParallel fsdp, Optimizer<?, ?> opt) throws IOException {
        Optional<Path> p = latest(dir);
        if (p.isEmpty()) return Optional.empty();
        return Optional.of(load(p.get(), fsdp, opt));
    }

    /**
     * Loads a step directory written by {@link #save} with any number of ranks into this rank's shards
     * (and opt's state, when opt is not null); returns the step.
     */
    public static long load(Path stepDir, FullyShardedDataParallel fsdp, Optimizer<?, ?> opt) throws IOException {
        Map<String, Tensor> whole = readFull(stepDir);
        try (var off = Autodiff.noGrad()) {
            Map<String, Tensor> params = new LinkedHashMap<>();
            for (var e : whole.entrySet()) if (e.getKey().startsWith("param.")) params.put(e.getKey().substring(6), e.getValue());
            Map<String, Tensor> state = new LinkedHashMap<>();
            for (var b : fsdp.module().namedBuffers().entrySet()) state.put(b.getKey(), whole.getOrDefault("buffer." + b.getKey(), b.getValue()));
            state.putAll(params);
            for (ShardedParam p : params(fsdp)) for (String a : p.aliases) state.put(a, params.get(p.name));
            fsdp.loadFullStateDict(state);
            if (opt != null) loadOptimizer(fsdp, opt, whole, stepDir);
        }
        long step = Long.parseLong(Safetensors.readHeader(stepDir.resolve(META)).metadata().get("step"));
        whole.values().forEach(Tensor::close);
        return step;
    }

    /**
     * Every tensor of a checkpoint made whole: "param.&lt;name&gt;" (the full parameter) and
     * "optim.&lt;name&gt;.&lt;field&gt;" (the full optimizer tensor), after checking each file's checksum. No collective.
     */
    public static Map<String, Tensor> readFull(Path stepDir) throws IOException {
        var meta = Safetensors.readHeader(stepDir.resolve(META)).metadata();
        if (!FORMAT.equals(meta.get("format")))
            throw new IOException("FsdpCheckpoint: " + stepDir.resolve(META) + " has format " + meta.get("format") + ", expected " + FORMAT);
        int n = Integer.parseInt(meta.get("shards"));
        Map<String, List<Tensor>> parts = new LinkedHashMap<>();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int k = 0; k < n; k++) {
            Path f = stepDir.resolve(shardFile(k, n));
            String want = meta.get("sha256." + shardFile(k, n)), got = sha256(f);
            if (!got.equals(want))
                throw new IOException("FsdpCheckpoint: " + f + " has SHA-256 " + got + " but the metadata records " + want + "; the checkpoint is damaged");
            var c = Safetensors.read(f);
            for (var e : c.tensors().entrySet()) {
                String key = e.getKey();
                if (key.startsWith("param.") || "sharded".equals(meta.get("kind." + key))) parts.computeIfAbsent(key, x -> new ArrayList<>()).add(e.getValue());
                else if (k == 0) out.put(key, Scope.escape(e.getValue()));
            }
        }
        try (var off = Autodiff.noGrad()) {
            for (var e : parts.entrySet()) {
                String key = e.getKey();
                String name = key.startsWith("param.") ? key.substring(6) : paramOf(key, meta);
                int[] shape = parseShape(meta.get("shape." + name));
                List<Tensor> nonEmpty = e.getValue().stream().filter(t -> t.numel() > 0).toList();
                Tensor whole = Tensor.cat(nonEmpty.stream().map(t -> t.reshape(-1)).toList(), 0).reshape(shape);
                out.put(key, Scope.escape(whole));
                e.getValue().forEach(Tensor::close);
            }
        }
        return out;
    }

    /**
     * Writes the whole model (master dtype) as one safetensors file a single-process model loads; a collective, rank 0 writes.
     * Under FSDP x TP this would hold only rank 0's tensor-parallel pieces: use
     * {@code TensorParallel.fullStateDict(fsdp, tp)} and write that instead.
     */
    public static void exportFull(Path file, FullyShardedDataParallel fsdp) throws IOException {
        Map<String, Tensor> state = fsdp.fullStateDict();
        Map<String, Tensor> unique = new LinkedHashMap<>();
        for (var e : state.entrySet()) unique.put(e.getKey(), e.getValue().contiguous().copy());   // tied names get their own copies in the file
        if (fsdp.groups().worldRank() == 0) Safetensors.save(file, unique, Map.of("format", "pt"));
        fsdp.groups().world().barrier().waitFor();
    }

    // ---------------------------------------------------------------- optimizer state

    /** opt's state of each shard, keyed by parameter name and field; tensors laid out like the shard are cut to their valid rows. */
    private static Map<String, Tensor> optimizerTensors(FullyShardedDataParallel fsdp, Optimizer<?, ?> opt, int r, Map<String, String> meta) {
        Map<Tensor, ShardedParam> byShard = new IdentityHashMap<>();
        for (ShardedParam p : params(fsdp)) byShard.put(p.shard, p);
        List<Tensor> ps = opt.params();
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (var e : opt.stateDict().entrySet()) {
            String k = e.getKey();
            if (k.startsWith("group.")) {
                if (!k.endsWith(".params")) out.put("optgroup." + k, e.getValue());
                continue;
            }
            String[] parts = k.split("\\.", 3);     // state.<i>.<field>
            ShardedParam p = byShard.get(ps.get(Integer.parseInt(parts[1])));
            if (p == null) throw new IllegalArgumentException("FsdpCheckpoint.save: the optimizer steps a tensor that is not one of this FSDP model's shards");
            String key = "optim." + p.name + "." + parts[2];
            meta.put("param." + key, p.name);
            if (Arrays.equals(e.getValue().shape(), p.shard.shape())) {
                meta.put("kind." + key, "sharded");
                out.put(key, validRows(p, e.getValue(), r));
            } else {
                meta.put("kind." + key, "replicated");
                out.put(key, e.getValue());
            }
        }
        return out;
    }

    private static void loadOptimizer(FullyShardedDataParallel fsdp, Optimizer<?, ?> opt, Map<String, Tensor> whole, Path stepDir) throws IOException {
        var meta = Safetensors.readHeader(stepDir.resolve(META)).metadata();
        Map<Tensor, ShardedParam> byShard = new IdentityHashMap<>();
        for (ShardedParam p : params(fsdp)) byShard.put(p.shard, p);
        Map<String, Tensor> dict = new LinkedHashMap<>();
        for (var e : opt.stateDict().entrySet()) if (e.getKey().startsWith("group.") && e.getKey().endsWith(".params")) dict.put(e.getKey(), e.getValue());
        for (var e : whole.entrySet()) if (e.getKey().startsWith("optgroup.")) dict.put(e.getKey().substring(9), e.getValue());
        List<Tensor> ps = opt.params();
        int rank = fsdp.groups().shardRank();
        for (int i = 0; i < ps.size(); i++) {
            ShardedParam p = byShard.get(ps.get(i));
            if (p == null) throw new IllegalArgumentException("FsdpCheckpoint.load: the optimizer steps a tensor that is not one of this FSDP model's shards");
            String prefix = "optim." + p.name + ".";
            for (var e : whole.entrySet()) {
                if (!e.getKey().startsWith(prefix) || e.getKey().indexOf('.', prefix.length()) >= 0) continue;
                String field = e.getKey().substring(prefix.length());
                boolean sharded = "sharded".equals(meta.get("kind." + e.getKey()));
                dict.put("state." + i + "." + field, sharded ? Shards.slice(p, e.getValue(), rank) : e.getValue());
            }
        }
        opt.loadStateDict(dict);
    }

    // ---------------------------------------------------------------- helpers

    private static List<ShardedParam> params(FullyShardedDataParallel fsdp) {
        List<ShardedParam> out = new ArrayList<>();
        for (Unit u : fsdp.units()) out.addAll(u.params);
        return out;
    }

    /** The rows of t (laid out like p's shard) that hold real elements, as a contiguous copy shaped (rows, ...). */
    private static Tensor validRows(ShardedParam p, Tensor t, int r) {
        long len = p.validElements(r);
        int rows = (int) (len / p.rowSize);
        int[] shape = p.shard.shape();
        shape[0] = rows;
        return t.contiguous().reshape(-1).narrow(0, 0, (int) len).reshape(shape).copy();
    }

    private static String paramOf(String key, Map<String, String> meta) {
        String name = meta.get("param." + key);
        if (name == null) throw new IllegalStateException("FsdpCheckpoint: no parameter recorded for " + key);
        return name;
    }

    static String shardFile(int r, int n) { return "shard-" + r + "-of-" + n + ".safetensors"; }

    private static int[] parseShape(String s) {
        String body = s.substring(1, s.length() - 1).trim();
        if (body.isEmpty()) return new int[0];
        return Arrays.stream(body.split(",")).mapToInt(x -> Integer.parseInt(x.trim())).toArray();
    }

    static String sha256(Path f) throws IOException {
        try (InputStream in = Files.newInputStream(f)) {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            byte[] buf = new byte[1 << 16];
            for (int k; (k = in.read(buf)) > 0; ) md.update(buf, 0, k);
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
