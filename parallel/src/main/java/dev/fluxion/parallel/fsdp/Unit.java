package dev.fluxion.parallel.fsdp;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Module;
import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.Work;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * One FSDP unit: the parameters a wrapped module owns, gathered together (one all-gather of the
 * concatenated shards) and reduced together (one reduce-scatter of the concatenated gradients).
 *
 * <p>Flat buffers: rank r's block is the concatenation, in parameter order, of each parameter's rows
 * [r * chunkRows, (r + 1) * chunkRows), zero-padded to chunkRows; {@link ShardedParam#offset} locates a
 * parameter within a block of {@code localNumel} elements.
 */
final class Unit {
    enum State { SHARDED, GATHERING, GATHERED }

    int index;                         // position in unit order (0: the root)
    final String path;                 // "" for the root
    final Module module;
    final List<ShardedParam> params = new ArrayList<>();
    final List<Nf4Shard> quantized = new ArrayList<>();   // frozen NF4 base weights (QLoRA), gathered as bytes
    long quantizedBytes;               // this rank's bytes of them
    private final Groups groups;
    private final DType computeDtype, reduceDtype, masterDtype;
    private final boolean aliased;     // one shard of the same dtype: the shard is the module's parameter, never released
    long localNumel;

    State state = State.SHARDED;
    private Work gatherWork;
    private Tensor gatherIn, gatherOut;
    private Work quantizedWork;
    private Tensor quantizedIn, quantizedOut;
    private Work reduceWork;
    private Tensor reduceIn, reduceOut;
    java.util.function.IntFunction<String> unitNames = i -> "unit " + i;   // the same on every rank: set by FullyShardedDataParallel
    int prefetchHits;                  // unshard() found the gather already started (it overlapped other work)
    int pendingGrads;                  // trainable parameters whose gradient is not yet final in this backward
    boolean reduced;                   // its gradients were sent in this backward
    final java.util.Map<Tensor, Boolean> ready = new java.util.IdentityHashMap<>();   // full parameters whose gradient is final

    Unit(int index, String path, Module module, Groups groups, DType masterDtype, MixedPrecision mp) {
        this.index = index;
        this.path = path;
        this.module = module;
        this.groups = groups;
        this.masterDtype = masterDtype;
        this.computeDtype = mp.param(masterDtype);
        this.reduceDtype = mp.reduce(masterDtype);
        this.aliased = groups.shardSize() == 1 && computeDtype == masterDtype;
        if (aliased) state = State.GATHERED;
    }

    String label() { return "unit " + index + " ('" + (path.isEmpty() ? "<root>" : path) + "', " + module.getClass().getSimpleName() + ")"; }

    ShardedParam add(String name, dev.fluxion.nn.Parameter p) {
        ShardedParam sp = new ShardedParam(name, p, groups.shardSize(), groups.shardRank(), localNumel, computeDtype, aliased);
        params.add(sp);
        localNumel += sp.shardNumel();
        return sp;
    }

    /** Frees the module's parameters after sharding them (the unit starts sharded). */
    void start() {
        if (!aliased) release();
    }

    /** Adds an NF4 weight (sharded into whole blocks only with more than one shard; see {@link Nf4Shard}). */
    void addQuantized(Nf4Shard q) {
        q.offset = quantizedBytes;
        quantized.add(q);
        quantizedBytes += q.local.length;
    }

    int trainableCount() {
        int n = 0;
        for (ShardedParam p : params) if (p.trainable()) n++;
        return n;
    }

    // ---------------------------------------------------------------- gather

    /** Starts the all-gather (a prefetch) unless the unit is gathered or gathering. */
    void startGather() {
        if (state != State.SHARDED || params.isEmpty() && quantized.isEmpty()) {
            if (params.isEmpty() && quantized.isEmpty()) state = State.GATHERED;
            return;
        }
        startQuantizedGather();
        state = State.GATHERING;
        if (params.isEmpty()) return;
        int n = groups.shardSize();
        Device device = params.get(0).full.device();
        try (var off = Autodiff.noGrad()) {
            // one more element per rank: this unit's tag, so ranks that gather different units find out (see checkGatherTags)
            gatherIn = Scope.escape(Tensor.zeros(computeDtype, device, (int) (localNumel + 1)));
            for (ShardedParam p : params)
                try (Tensor flat = p.shard.detach().reshape(-1)) {
                    write(gatherIn, p.offset, p.shardNumel(), flat);
                }
            fill(gatherIn, localNumel, tag());
            gatherOut = Scope.escape(Tensor.zeros(computeDtype, device, (int) (n * (localNumel + 1))));
        }
        gatherWork = n == 1 ? null : groups.shard().allGather(gatherOut, gatherIn);
    }

    /** Starts the byte all-gather of the unit's NF4 blocks (none when the unit has none). */
    private void startQuantizedGather() {
        if (quantized.isEmpty()) return;
        byte[] mine = new byte[(int) quantizedBytes];
        for (Nf4Shard q : quantized) System.arraycopy(q.local, 0, mine, (int) q.offset, q.local.length);
        quantizedIn = Scope.escape(Nf4Shard.bytes(mine));
        quantizedOut = Scope.escape(Tensor.zeros(DType.UINT8, Device.CPU, (int) (groups.shardSize() * quantizedBytes)));
        quantizedWork = groups.shard().allGather(quantizedOut, quantizedIn);
    }

    /** Waits for the NF4 bytes and restores every NF4 weight of the unit whole. */
    private void finishQuantizedGather() {
        if (quantized.isEmpty()) return;
        try {
            quantizedWork.waitFor();
        } catch (DistributedException e) {
            throw new DistributedException("FullyShardedDataParallel: all-gather of the NF4 weights of " + label() + " on rank " + groups.worldRank() + " failed: "
                    + e.getMessage() + ". Every rank must run the same units in the same order", e);
        }
        byte[] all = new byte[(int) quantizedOut.numel()];
        quantizedOut.storage().readBytes(0, ByteBuffer.wrap(all));
        for (Nf4Shard q : quantized) q.importFrom(all, quantizedBytes, groups.shardSize());
        quantizedIn.close();
        quantizedOut.close();
        quantizedIn = quantizedOut = null;
        quantizedWork = null;
    }

    /** Makes the module's parameters whole: waits for the gather (starting it if needed) and fills their memory. */
    void unshard() {
        if (state == State.GATHERED) return;
        if (state == State.GATHERING) prefetchHits++;
        startGather();
        if (state == State.GATHERED) return;
        finishQuantizedGather();
        if (!params.isEmpty()) finishGather();
        state = State.GATHERED;
    }

    private void finishGather() {
        int n = groups.shardSize();
        try {
            if (gatherWork != null) gatherWork.waitFor();
        } catch (DistributedException e) {
            throw new DistributedException("FullyShardedDataParallel: all-gather of " + label() + " on rank " + groups.worldRank() + " failed: "
                    + e.getMessage() + ". Every rank must run the same units in the same order (did one rank skip a forward, or call units in another order?)", e);
        }
        Tensor source = n == 1 ? gatherIn : gatherOut;
        checkGatherTags(source, n);
        for (ShardedParam p : params) {
            Storage dst = p.full.storage();
            dst.materialize();
            for (int r = 0; r < n; r++) {
                long len = p.validElements(r);
                if (len > 0) dst.copyElementsFrom(source.storage(), r * (localNumel + 1) + p.offset, p.full.offset() + r * p.shardNumel(), len);
            }
        }
        gatherIn.close();
        gatherOut.close();
        gatherIn = gatherOut = null;
        gatherWork = null;
    }

    /** This unit's tag in the extra elements of gathers and reductions: exact in every float dtype up to 256 units (bf16's integers). */
    private double tag() { return index + 1; }

    private void checkGatherTags(Tensor gathered, int n) {
        if (n == 1) return;
        List<String> seen = new ArrayList<>();
        boolean same = true;
        for (int r = 0; r < n; r++) {
            double t = read(gathered, r * (localNumel + 1) + localNumel);
            same &= t == tag();
            seen.add("rank " + groups.shard().globalRank(r) + ": " + unitNames.apply((int) Math.round(t) - 1));
        }
        if (!same)
            throw new DistributedException("FullyShardedDataParallel: ranks gathered different units: " + seen + "; this rank (" + groups.worldRank()
                    + ") is at " + label() + ". Every rank must call the units' forwards in the same order (did one rank skip a forward, or branch differently?)");
    }

    /** True when the module's parameters hold memory (gathered, or aliased to the shard). */
    boolean isResident() {
        for (ShardedParam p : params) if (!p.full.storage().isResident()) return false;
        for (Nf4Shard q : quantized) if (!q.weight.isResident()) return false;
        return true;
    }

    /** Releases the module's parameters' memory (the tensors stay; the tape accepts them once gathered again). */
    void reshard() {
        if (aliased) return;
        if (state == State.GATHERING) unshard();   // a prefetch nobody used: finish it so the group's queue stays in step
        release();
        state = State.SHARDED;
    }

    private void release() {
        for (ShardedParam p : params) p.full.storage().releaseMemory();
        for (Nf4Shard q : quantized) q.weight.releaseBlocks();
        state = State.SHARDED;
    }

    // Views made here are closed at once: an open view keeps its buffer's memory after the buffer is closed,
    // until the caller's Scope ends, which would hold every gathered unit of a step.

    /** dst[offset, offset + count) = src (flat, converted to dst's dtype). */
    private static void write(Tensor dst, long offset, long count, Tensor src) {
        try (Tensor view = dst.narrow(0, (int) offset, (int) count)) {
            if (src.dtype() == dst.dtype()) view.copy_(src);
            else try (Tensor cast = src.to(dst.dtype())) { view.copy_(cast); }
        }
    }

    private static void fill(Tensor t, long index, double value) {
        try (Tensor view = t.narrow(0, (int) index, 1)) { view.fill_(value); }
    }

    private static double read(Tensor t, long index) {
        try (Tensor view = t.narrow(0, (int) index, 1)) { return view.item(); }
    }

    // ---------------------------------------------------------------- gradients

    /**
     * Called when every trainable parameter's gradient is final for this backward: packs them (in the
     * reduce dtype), frees the full gradients and starts the reduce-scatter (or, unsharded, the all-reduce).
     */
    void startReduce() {
        int n = groups.shardSize();
        Device device = params.get(0).full.device();
        try (var off = Autodiff.noGrad()) {
            long block = localNumel + 2;   // each rank's block ends with tag and tag^2: their averages equal them only if every rank reduced this unit
            reduceIn = Scope.escape(Tensor.zeros(reduceDtype, device, (int) (n * block)));
            for (int r = 0; r < n; r++) {
                fill(reduceIn, r * block + localNumel, tag());
                fill(reduceIn, r * block + localNumel + 1, tag() * tag());
            }
            for (ShardedParam p : params) {
                if (!p.trainable()) continue;
                Tensor g = p.full.grad();
                if (g == null) continue;
                try (Tensor flat = g.reshape(-1)) {
                    for (int r = 0; r < n; r++) {
                        long len = p.validElements(r);
                        if (len > 0)
                            try (Tensor rows = flat.narrow(0, (int) (r * p.shardNumel()), (int) len)) {
                                write(reduceIn, r * block + p.offset, len, rows);
                            }
                    }
                }
                p.full.setGrad(null);
                g.close();
            }
            reduceOut = n == 1 ? reduceIn : Scope.escape(Tensor.zeros(reduceDtype, device, (int) block));
        }
        if (n > 1) reduceWork = groups.shard().reduceScatter(reduceOut, reduceIn, ReduceOp.AVG);
        else if (groups.replicate() != null) reduceWork = groups.replicate().allReduce(reduceOut, ReduceOp.AVG);
        reduced = true;
    }

    /** Waits for the reduction, averages across replicas (hybrid), and adds the result into the shards' gradients. */
    void finishReduce() {
        if (!reduced) return;
        reduced = false;
        try {
            if (reduceWork != null) reduceWork.waitFor();
            if (groups.shardSize() > 1 && groups.replicate() != null) groups.replicate().allReduce(reduceOut, ReduceOp.AVG).waitFor();
        } catch (DistributedException e) {
            throw new DistributedException("FullyShardedDataParallel: gradient reduction of " + label() + " on rank " + groups.worldRank() + " failed: "
                    + e.getMessage() + ". Every rank must run the same units in the same order", e);
        }
        double t = read(reduceOut, localNumel), t2 = read(reduceOut, localNumel + 1);
        boolean exactSquares = reduceDtype == DType.FLOAT32 || reduceDtype == DType.FLOAT64;   // bf16/fp16 round tag^2 past 16 units
        if (t != tag() || exactSquares && t2 != tag() * tag())
            throw new DistributedException("FullyShardedDataParallel: ranks reduced different units' gradients together (average tag " + (t - 1) + ", this rank's "
                    + (tag() - 1) + "); this rank (" + groups.worldRank() + ") reduced " + label() + ". Every rank must run the same units in the same order");
        try (var off = Autodiff.noGrad()) {
            for (ShardedParam p : params) {
                if (!p.trainable()) continue;
                try (Tensor flat = reduceOut.narrow(0, (int) p.offset, (int) p.shardNumel()); Tensor g = flat.reshape(p.shard.shape())) {
                    if (p.shard.grad() == null) p.shard.setGrad(Scope.escape(g.to(masterDtype).copy()));
                    else p.shard.grad().add_(g.to(masterDtype));
                }
            }
        }
        if (reduceOut != reduceIn) reduceOut.close();
        reduceIn.close();
        reduceIn = reduceOut = null;
        reduceWork = null;
    }
}
