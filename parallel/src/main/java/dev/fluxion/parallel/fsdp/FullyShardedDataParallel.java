package dev.fluxion.parallel.fsdp;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.nn.lora.Nf4Linear;
import dev.fluxion.parallel.DeviceMesh;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Fully sharded data parallelism (ZeRO-3), as PyTorch's FSDP2 {@code fully_shard}: every parameter is split
 * along dim 0 over the ranks of the shard group, and the optimizer steps only this rank's shards, so
 * parameters, gradients and optimizer state each take about 1/N of the memory DDP needs.
 *
 * <p>The model is used as it is ({@code model.forward(x)}); forward hooks on each unit (the root, plus the
 * modules the {@link WrapPolicy} picks) all-gather the unit's parameters before its forward and free them
 * after it; a marker on the unit's output gathers them again before its backward, a marker on its input
 * frees them after it. Each unit's gradients are reduce-scattered (averaged) into the shards' gradients as
 * soon as they are final; backward returns once they have arrived. The next unit's gather is started early
 * (prefetch) so communication overlaps computation. Freeing and re-gathering keep the parameter tensors and
 * their storage versions ({@code Storage.releaseMemory()/materialize()}), so the tape accepts them.
 *
 * <pre>{@code
 * var model = new Gpt(config, Init.seed(1));
 * var fsdp = FullyShardedDataParallel.fullyShard(model, pg, WrapPolicy.transformerBlocks(), FsdpConfig.DEFAULT);
 * var opt = new AdamW(fsdp.parameters(), AdamW.Config.DEFAULT);     // the local shards only
 * Tensor loss = Losses.crossEntropy(model.forward(x), y);           // x, y: this rank's part of the batch
 * opt.zeroGrad();
 * loss.backward();                                                  // gathers, reduce-scatters while it runs
 * fsdp.clipGradNorm(1.0);                                           // global norm across shards
 * opt.step();
 * }</pre>
 *
 * <p>LoRA and QLoRA: frozen parameters are sharded but get no gradients and no optimizer state; a QLoRA base's
 * 4-bit {@link Nf4Linear} weights are sharded by whole quantization blocks (codes with their scales) and
 * gathered as bytes with the unit, so they stay bit-exact ({@link #quantizedShardBytes()}).
 *
 * Every rank must run the same units in the same order. Every trainable parameter must get a gradient in
 * every synchronised backward (freeze unused ones with {@code requiresGrad(false)} before wrapping).
 */
public final class FullyShardedDataParallel {
    private final Module root;
    private final FsdpConfig config;
    private final Groups groups;
    private final List<Unit> units = new ArrayList<>();
    private final Map<Parameter, Unit> owner = new IdentityHashMap<>();
    private final List<Module.HookHandle> hooks = new ArrayList<>();
    private final List<Runnable> gradHooks = new ArrayList<>();
    private final List<Unit> order = new ArrayList<>();       // this forward's units, in call order
    private List<Unit> lastOrder = List.of();                  // the previous forward's, for forward prefetch
    private final List<Unit> reduceOrder = new ArrayList<>(); // units whose reduction started in this backward
    private boolean inBackward, sync = true;

    private FullyShardedDataParallel(Module root, Groups groups, WrapPolicy policy, FsdpConfig config) {
        this.root = root;
        this.config = config;
        this.groups = groups;
        Broadcast.fromFirstReplica(groups, root);
        buildUnits(policy);
        for (Unit u : units) {
            hooks.add(u.module.registerForwardPreHook((m, in) -> preForward(u, in)));
            hooks.add(u.module.registerForwardHook((m, in, out) -> postForward(u, out)));
            for (ShardedParam p : u.params) if (p.trainable()) gradHooks.add(Autodiff.onGradReady(p.full, t -> onGradReady(u, t)));
            u.start();
        }
    }

    /** Shards model over every rank of group (FULL_SHARD, SHARD_GRAD_OP or NO_SHARD; HYBRID_SHARD needs a 2-D mesh). */
    public static FullyShardedDataParallel fullyShard(Module model, ProcessGroup group, WrapPolicy policy, FsdpConfig config) {
        Groups g = switch (config.strategy()) {
            case FULL_SHARD, SHARD_GRAD_OP -> new Groups(group, group.size() > 1 ? group : null, null);
            case NO_SHARD -> new Groups(group, null, group.size() > 1 ? group : null);
            case HYBRID_SHARD -> throw new IllegalArgumentException("fullyShard: HYBRID_SHARD needs a 2-D DeviceMesh with dims \"replicate\" and \"shard\"; "
                    + "pass fullyShard(model, mesh, policy, config)");
        };
        return new FullyShardedDataParallel(model, g, policy, config);
    }

    /**
     * Shards model on a mesh: HYBRID_SHARD shards within the mesh's "shard" dimension and replicates across
     * its "replicate" dimension; other strategies use a 1-D mesh's only dimension, else its "shard"
     * dimension, else its "dp" dimension. Other dimensions are left alone: FSDP x TP builds the mesh
     * ("dp", "tp"), applies the tensor-parallel plan with the "tp" group first, then shards each rank's
     * tensor-parallel pieces further over "dp" (whose ranks all hold the same pieces). Initial values are
     * synchronised over the FSDP dimensions only, never across "tp".
     */
    public static FullyShardedDataParallel fullyShard(Module model, DeviceMesh mesh, WrapPolicy policy, FsdpConfig config) {
        ProcessGroup world = mesh.world();
        if (config.strategy() == ShardingStrategy.HYBRID_SHARD) {
            if (!mesh.names().contains("shard") || !mesh.names().contains("replicate"))
                throw new IllegalArgumentException("fullyShard: HYBRID_SHARD needs mesh dims \"replicate\" and \"shard\", got " + mesh);
            ProcessGroup s = mesh.group("shard"), r = mesh.group("replicate");
            return new FullyShardedDataParallel(model, new Groups(world, s.size() > 1 ? s : null, r.size() > 1 ? r : null), policy, config);
        }
        List<String> names = mesh.names();
        if (names.size() > 1 && !names.contains("shard") && !names.contains("dp"))
            throw new IllegalArgumentException("fullyShard: a " + names.size() + "-D mesh needs a \"shard\" or \"dp\" dimension to shard over, got " + mesh);
        ProcessGroup dim = mesh.group(names.size() == 1 ? names.get(0) : names.contains("shard") ? "shard" : "dp");
        Groups g = config.strategy() == ShardingStrategy.NO_SHARD ? new Groups(world, null, dim.size() > 1 ? dim : null)
                : new Groups(world, dim.size() > 1 ? dim : null, null);
        return new FullyShardedDataParallel(model, g, policy, config);
    }

    // ---------------------------------------------------------------- units

    private void buildUnits(WrapPolicy policy) {
        Map<String, Module> modules = root.namedModules();
        List<String> paths = new ArrayList<>(modules.keySet());
        // decide children first (reverse pre-order visits every child before its parent)
        Map<Module, String> wrapped = new IdentityHashMap<>();
        Map<Parameter, Boolean> claimed = new IdentityHashMap<>();
        for (int i = paths.size() - 1; i >= 1; i--) {
            Module m = modules.get(paths.get(i));
            long free = 0;
            for (Parameter p : m.parameters()) if (!claimed.containsKey(p)) free += p.numel();
            if (free > 0 && policy.wrap(paths.get(i), m, free)) {
                wrapped.put(m, paths.get(i));
                for (Parameter p : m.parameters()) claimed.put(p, true);
            }
        }
        // each parameter goes to the innermost unit above every module that holds it (the root when shared across units)
        Map<Parameter, String> names = new IdentityHashMap<>();
        List<Parameter> inOrder = new ArrayList<>();
        Map<Parameter, List<String>> aliases = new IdentityHashMap<>();      // registration order: the same on every rank (identity maps are not)
        Map<Parameter, String> unitOf = new IdentityHashMap<>();
        for (String path : paths) {
            String unitPath = innermostUnit(path, modules, wrapped);
            for (var e : modules.get(path).namedParameters().entrySet()) {
                if (e.getKey().contains(".")) continue;   // owned by a child, visited on its own
                Parameter p = e.getValue();
                String name = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
                if (names.putIfAbsent(p, name) == null) inOrder.add(p);
                else aliases.computeIfAbsent(p, k -> new ArrayList<>()).add(name);   // a tied parameter's other names
                String before = unitOf.putIfAbsent(p, unitPath);
                if (before != null && !before.equals(unitPath)) unitOf.put(p, "");
            }
        }
        DType master = null;
        List<String> unitPaths = new ArrayList<>();
        unitPaths.add("");
        for (String path : paths) if (wrapped.containsKey(modules.get(path)) && !path.isEmpty()) unitPaths.add(path);
        for (Parameter p : inOrder) {
            if (master == null) master = p.dtype();
            else if (master != p.dtype())
                throw new IllegalArgumentException("fullyShard: parameters must share one dtype (the master dtype); got " + master + " and " + p.dtype()
                        + " for '" + names.get(p) + "'; convert the model with model.to(dtype) first and use MixedPrecision to compute in another");
        }
        if (master == null) master = DType.FLOAT32;
        Map<String, Unit> byPath = new LinkedHashMap<>();
        for (String up : unitPaths) {
            Unit u = new Unit(units.size(), up, modules.get(up), groups, master, config.mixedPrecision());
            units.add(u);
            byPath.put(up, u);
        }
        for (Parameter p : inOrder) {
            Unit u = byPath.get(unitOf.get(p));
            u.add(names.get(p), p).aliases.addAll(aliases.getOrDefault(p, List.of()));
            owner.put(p, u);
        }
        // frozen 4-bit NF4 weights (QLoRA bases) are no Parameters: each unit shards them by whole quantization blocks
        if (groups.shardSize() > 1)
            for (String path : paths)
                if (modules.get(path) instanceof Nf4Linear q)
                    byPath.get(innermostUnit(path, modules, wrapped)).addQuantized(new Nf4Shard(path, q.weight(), groups.world(), groups.shardSize(), groups.shardRank()));
        // a wrapped module whose parameters all went to the root (tied to another unit's) is no unit; renumber the rest
        units.removeIf(u -> u.index != 0 && u.params.isEmpty() && u.quantized.isEmpty());
        for (int i = 0; i < units.size(); i++) units.get(i).index = i;
        for (Unit u : units) u.unitNames = i -> i >= 0 && i < units.size() ? units.get(i).label() : "unit " + i + " (no such unit here)";
    }

    private static String innermostUnit(String path, Map<String, Module> modules, Map<Module, String> wrapped) {
        String p = path;
        while (!p.isEmpty()) {
            if (wrapped.containsKey(modules.get(p))) return p;
            int dot = p.lastIndexOf('.');
            p = dot < 0 ? "" : p.substring(0, dot);
        }
        return "";
    }

    // ---------------------------------------------------------------- forward

    private Tensor[] preForward(Unit u, Tensor[] inputs) {
        if (u.index == 0) {
            if (inBackward) throw new IllegalStateException("FullyShardedDataParallel: forward called while a backward is still reducing gradients");
            order.clear();
        }
        u.unshard();
        order.add(u);
        if (config.forwardPrefetch() && Autodiff.isGradEnabled() && order.size() < lastOrder.size() && lastOrder.get(order.size() - 1) == u)
            lastOrder.get(order.size()).startGather();
        if (inputs.length > 0 && inputs[0] != null && inputs[0].requiresGrad() && Autodiff.isGradEnabled()) {
            inputs[0] = Autodiff.function("fsdp.postBackward[" + u.index + "]", in -> in[0].detach(), (in, out, g) -> {
                postBackward(u);
                return new Tensor[] {g};
            }, inputs[0]);
            return inputs;
        }
        return null;
    }

    private Tensor postForward(Unit u, Tensor output) {
        boolean backwardComes = Autodiff.isGradEnabled() && output != null && output.requiresGrad();
        if (!backwardComes) {
            if (u.index != 0) u.reshard();
            else {
                for (Unit v : units) v.reshard();
                lastOrder = List.copyOf(order);
            }
            return null;
        }
        if (u.index == 0) lastOrder = List.copyOf(order);
        else if (config.strategy().reshardAfterForward()) u.reshard();
        return Autodiff.function("fsdp.preBackward[" + u.index + "]", in -> in[0].detach(), (in, out, g) -> {
            preBackward(u);
            return new Tensor[] {g};
        }, output);
    }

    // ---------------------------------------------------------------- backward

    private void beginBackward() {
        if (inBackward) return;
        inBackward = true;
        reduceOrder.clear();
        for (Unit v : units) {
            v.pendingGrads = v.trainableCount();
            v.ready.clear();
        }
        Autodiff.queueCallback(this::endBackward);
    }

    private void preBackward(Unit u) {
        beginBackward();
        u.unshard();
        if (!config.backwardPrefetch()) return;
        // the next unit backward reaches: the one called before u in the forward (the root's backward spans all, so after it comes the last)
        int at = u.index == 0 ? order.size() : order.lastIndexOf(u);
        for (int i = at - 1; i >= 1; i--) {
            Unit next = order.get(i);
            if (next != u) {
                next.startGather();
                return;
            }
        }
    }

    private void postBackward(Unit u) {
        if (u.index != 0) u.reshard();
    }

    private void onGradReady(Unit u, Tensor param) {
        if (!sync) return;
        beginBackward();
        if (u.ready.put(param, true) != null)
            throw new IllegalStateException("FullyShardedDataParallel: a parameter of " + u.label() + " got a gradient twice in one synchronised backward "
                    + "(two backward passes through one forward?); accumulate under noSync() and synchronise in the last backward");
        if (--u.pendingGrads == 0) {
            // at most two reductions in flight: the previous one has had this unit's backward to finish, and its
            // buffers (a whole unit's gradients) are freed now rather than at the end of backward
            if (!reduceOrder.isEmpty()) reduceOrder.get(reduceOrder.size() - 1).finishReduce();
            u.startReduce();
            reduceOrder.add(u);
        }
    }

    /** Runs after backward: waits for the reductions (in the order started, the same on every rank), frees what is still gathered. */
    private void endBackward() {
        try {
            for (Unit u : reduceOrder) u.finishReduce();
            if (sync) {
                List<String> missing = new ArrayList<>();
                for (Unit u : units)
                    for (ShardedParam p : u.params) if (p.trainable() && !u.ready.containsKey(p.full)) missing.add(u.label() + ": " + p);
                if (!missing.isEmpty())
                    throw new IllegalStateException("FullyShardedDataParallel on rank " + groups.worldRank() + ": backward did not reduce the gradients, because these "
                            + "trainable parameters got no gradient: " + missing + ". Every trainable parameter must take part in the loss on every rank; "
                            + "freeze unused ones with requiresGrad(false) before wrapping");
            }
        } finally {
            for (Unit u : units) u.reshard();
            inBackward = false;
        }
    }

    // ---------------------------------------------------------------- public API

    /** The local shards, one per parameter of the model (frozen ones included, with requiresGrad false): give these to the optimizer. */
    public List<Parameter> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** The local shards by the model's parameter names. */
    public Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        for (Unit u : units) for (ShardedParam p : u.params) out.put(p.name, p.shard);
        return Collections.unmodifiableMap(out);
    }

    /** The wrapped model. */
    public Module module() { return root; }

    /** The group the parameters are split over (null when they are not split: NO_SHARD, or one rank). */
    public ProcessGroup shardGroup() { return groups.shard(); }

    /** The settings. */
    public FsdpConfig config() { return config; }

    /** The unit paths ("" for the root), in unit order. */
    public List<String> unitPaths() {
        List<String> out = new ArrayList<>();
        for (Unit u : units) out.add(u.path);
        return out;
    }

    /** Bytes of this rank's shards (parameters), for measuring. */
    public long shardBytes() {
        long b = 0;
        for (Unit u : units) for (ShardedParam p : u.params) b += p.shard.numel() * p.shard.dtype().byteSize();
        return b;
    }

    /** Bytes of this rank's blocks of the frozen NF4 base weights (QLoRA), for measuring: about 1/N of their codes and block scales. */
    public long quantizedShardBytes() {
        long b = 0;
        for (Unit u : units) b += u.quantizedBytes;
        return b;
    }

    /**
     * Within the returned scope backward passes accumulate unsharded gradients locally without communicating
     * (gradient accumulation); the first synchronised backward after it reduce-scatters the sums.
     */
    public AutoCloseable noSync() {
        if (inBackward) throw new IllegalStateException("FullyShardedDataParallel.noSync: a backward is still reducing");
        boolean before = sync;
        sync = false;
        return () -> sync = before;
    }

    /**
     * Scales the shards' gradients so that the global L2 norm of all gradients (across every shard) is at most
     * maxNorm, as torch's {@code clip_grad_norm_} on the whole model; a collective (every rank calls it).
     * Returns the norm before clipping.
     */
    public double clipGradNorm(double maxNorm) {
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("clipGradNorm: maxNorm must be >= 0, got " + maxNorm);
        try (var off = Autodiff.noGrad()) {
            Tensor sq = Tensor.zeros(DType.FLOAT64, 1);
            for (Parameter p : parameters())
                if (p.grad() != null) sq = sq.add(p.grad().to(DType.FLOAT64).pow(2).sum().reshape(1));
            if (groups.shard() != null) groups.shard().allReduce(sq, dev.fluxion.parallel.ReduceOp.SUM).waitFor();
            double total = Math.sqrt(sq.item());
            double coef = maxNorm / (total + 1e-6);
            if (coef < 1) for (Parameter p : parameters()) if (p.grad() != null) p.grad().copy_(p.grad().mul(coef));
            return total;
        }
    }

    /**
     * The whole model's parameters (master dtype, unsharded copies) and buffers by name, as a single-process
     * model's {@code stateDict()}: a collective over the shard group (every rank calls it; every rank gets it).
     */
    public Map<String, Tensor> fullStateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (var off = Autodiff.noGrad()) {
            for (Unit u : units)
                for (ShardedParam p : u.params) {
                    Tensor whole;
                    try {
                        whole = dev.fluxion.tensor.Scope.escape(Shards.gather(groups, p, p.shard.detach()));
                    } catch (dev.fluxion.parallel.DistributedException e) {
                        throw new dev.fluxion.parallel.DistributedException("FullyShardedDataParallel.fullStateDict on rank " + groups.worldRank() + ": gathering '"
                                + p.name + "' of " + u.label() + " failed: " + e.getMessage() + ". Every rank must call it at the same point (did a rank skip a step?)", e);
                    }
                    out.put(p.name, whole);
                    for (String alias : p.aliases) out.put(alias, whole);   // tied: one tensor under each name, as torch's state_dict
                }
        }
        for (var e : root.namedBuffers().entrySet()) out.put(e.getKey(), e.getValue());
        return out;
    }

    /**
     * Loads a full (single-process) state dict: every rank keeps its rows of each parameter in its shards,
     * and the buffers. Keys and shapes must match the model's.
     */
    public void loadFullStateDict(Map<String, Tensor> state) {
        try (var off = Autodiff.noGrad()) {
            for (Unit u : units) {
                for (ShardedParam p : u.params) {
                    Tensor t = state.get(p.name);
                    if (t == null) throw new IllegalArgumentException("loadFullStateDict: missing '" + p.name + "'");
                    if (!java.util.Arrays.equals(t.shape(), p.shape))
                        throw new IllegalArgumentException("loadFullStateDict: '" + p.name + "' has shape " + java.util.Arrays.toString(t.shape())
                                + " in the state, " + java.util.Arrays.toString(p.shape) + " in the model");
                    p.shard.copy_(Shards.slice(p, t.to(p.shard.dtype()), groups.shardRank()));
                }
                u.reshard();
            }
            for (var e : root.namedBuffers().entrySet()) {
                Tensor t = state.get(e.getKey());
                if (t == null) throw new IllegalArgumentException("loadFullStateDict: missing buffer '" + e.getKey() + "'");
                e.getValue().copy_(t);
            }
        }
    }

    /** Removes the hooks and gathers every unit for good: the model trains on its own again (with this rank's values). */
    public void detach() {
        hooks.forEach(Module.HookHandle::remove);
        gradHooks.forEach(Runnable::run);
        hooks.clear();
        gradHooks.clear();
        for (Unit u : units) u.unshard();
    }

    List<Unit> units() { return units; }

    /** How many gathers a unit found already started by a prefetch (package-private, for tests and the benchmark). */
    int prefetchHits() {
        int n = 0;
        for (Unit u : units) n += u.prefetchHits;
        return n;
    }

    /** Whether the unit at path holds its whole parameters now. */
    boolean isGathered(String path) {
        for (Unit u : units) if (u.path.equals(path)) return u.isResident();
        throw new IllegalArgumentException("no unit '" + path + "'; units are " + unitPaths());
    }

    Groups groups() { return groups; }

    @Override public String toString() {
        return "FullyShardedDataParallel(" + config.strategy() + ", units=" + units.size() + ", shard=" + groups.shardSize()
                + (groups.replicate() == null ? "" : ", replicas=" + groups.replicate().size()) + ")";
    }
}
