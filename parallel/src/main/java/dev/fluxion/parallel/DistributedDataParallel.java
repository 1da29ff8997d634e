package dev.fluxion.parallel;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Data-parallel training, as torch.nn.parallel.DistributedDataParallel: every rank holds a replica of the
 * module and a different part of the batch, and after each backward every rank holds the gradients
 * averaged over all ranks, so the optimizer steps keep the replicas equal.
 *
 * <p>When wrapped, parameters and buffers are broadcast from rank 0. Gradients are packed into buckets
 * (~25 MB; the first 1 MB, as PyTorch) in reverse registration order, the order backward produces them. A
 * bucket's all-reduce starts on the group's thread as soon as its last gradient is ready (a gradient-ready
 * hook, {@link Autodiff#onGradReady}), so communication overlaps the rest of backward; when the last bucket
 * has been started, backward waits for all of them and writes the averages into the parameters' grads. So
 * after {@code loss.backward()} returns, the gradients are synchronised and the optimizer may step.
 *
 * <pre>{@code
 * var ddp = new DistributedDataParallel(model, pg);
 * var opt = new AdamW(ddp.parameters(), AdamW.Config.DEFAULT);
 * Tensor loss = Losses.crossEntropy(ddp.forward(x), y);     // x, y: this rank's part of the batch
 * opt.zeroGrad();
 * loss.backward();                                          // all-reduces while it runs
 * opt.step();
 * try (var s = ddp.noSync()) { ... backward ... }           // gradient accumulation: no communication
 * }</pre>
 *
 * Every parameter that requires grad must receive a gradient in every synchronised backward, on every rank
 * (else the reduction cannot finish; the next forward, or {@link #finish()}, names the parameters that got
 * none). Freeze unused parameters with {@code requiresGrad(false)} before wrapping.
 */
public final class DistributedDataParallel extends Module {
    /** bucketCapBytes: size of the buckets; firstBucketBytes: the first (last layers'); broadcastBuffers: sync buffers from rank 0 each forward. */
    public record Config(long bucketCapBytes, long firstBucketBytes, boolean broadcastBuffers) {
        public static final Config DEFAULT = new Config(25L << 20, 1L << 20, true);

        public Config {
            if (bucketCapBytes <= 0 || firstBucketBytes <= 0)
                throw new IllegalArgumentException("DistributedDataParallel.Config: bucket sizes must be positive, got " + bucketCapBytes + " and " + firstBucketBytes);
        }

        public Config withBucketCapBytes(long b) { return new Config(b, firstBucketBytes, broadcastBuffers); }
        public Config withFirstBucketBytes(long b) { return new Config(bucketCapBytes, b, broadcastBuffers); }
        public Config withBroadcastBuffers(boolean on) { return new Config(bucketCapBytes, firstBucketBytes, on); }
    }

    private record Slot(Bucket bucket, int index) {}

    private final Module module;
    private final ProcessGroup pg;
    private final Config config;
    private final List<Bucket> buckets = new ArrayList<>();
    private final Map<Tensor, Slot> slots = new IdentityHashMap<>();
    private final List<Runnable> unhook = new ArrayList<>();
    private boolean sync = true;
    private boolean reducing;      // a synchronised backward has started and not finished
    private int nextLaunch;

    public DistributedDataParallel(Module module, ProcessGroup pg) { this(module, pg, Config.DEFAULT); }

    public DistributedDataParallel(Module module, ProcessGroup pg, Config config) {
        this.module = register("module", module);
        this.pg = pg;
        this.config = config;
        List<Tensor> state = new ArrayList<>(module.parameters());
        state.addAll(module.namedBuffers().values());
        Coalesced.broadcast(pg, state, 0);
        assignBuckets();
        for (Bucket b : buckets)
            for (Parameter p : b.params) unhook.add(Autodiff.onGradReady(p, this::onGradReady));
    }

    /** The wrapped module (save its state dict, not this wrapper's, to get the usual names). */
    public Module module() { return module; }

    public ProcessGroup processGroup() { return pg; }

    /** How many buckets the gradients travel in. */
    public int bucketCount() { return buckets.size(); }

    /** module.forward(inputs); inputs are this rank's part of the batch. Checks the previous backward was synchronised. */
    @Override protected Tensor compute(Tensor... inputs) {
        if (reducing) throw new IllegalStateException(unfinished());
        if (config.broadcastBuffers() && isTraining() && !module.namedBuffers().isEmpty())
            Coalesced.broadcast(pg, new ArrayList<>(module.namedBuffers().values()), 0);
        return module.forward(inputs);
    }

    /**
     * Within the returned scope, backward passes only accumulate gradients locally (gradient accumulation);
     * the first synchronised backward after it all-reduces the accumulated sums.
     */
    public AutoCloseable noSync() {
        if (reducing) throw new IllegalStateException(unfinished());
        boolean before = sync;
        sync = false;
        return () -> sync = before;
    }

    /**
     * Throws if the last synchronised backward left parameters without a gradient (the reduction could not
     * finish); otherwise does nothing, since backward itself finishes the reduction.
     */
    public void finish() {
        if (reducing) throw new IllegalStateException(unfinished());
    }

    /** Removes the gradient hooks: the module trains without synchronisation again. */
    public void detachHooks() {
        unhook.forEach(Runnable::run);
        unhook.clear();
    }

    // ------------------------------------------------------------------ buckets

    private void assignBuckets() {
        Map<Parameter, String> names = new IdentityHashMap<>();
        List<Parameter> order = new ArrayList<>();
        for (Map.Entry<String, Parameter> e : module.namedParameters().entrySet())
            if (e.getValue().requiresGrad() && names.putIfAbsent(e.getValue(), e.getKey()) == null) order.add(e.getValue());
        Collections.reverse(order);   // backward produces the last layers' gradients first
        Map<String, List<Parameter>> open = new LinkedHashMap<>();
        Map<String, Long> openBytes = new LinkedHashMap<>();
        long limit = config.firstBucketBytes();
        for (Parameter p : order) {
            String key = p.dtype() + "@" + p.device();
            open.computeIfAbsent(key, k -> new ArrayList<>()).add(p);
            long bytes = openBytes.merge(key, (long) p.numel() * p.dtype().byteSize(), Long::sum);
            if (bytes >= limit) {
                addBucket(open.remove(key), names);
                openBytes.remove(key);
                limit = config.bucketCapBytes();
            }
        }
        for (List<Parameter> rest : open.values()) addBucket(rest, names);
        for (Bucket b : buckets)
            for (int i = 0; i < b.params.size(); i++) slots.put(b.params.get(i), new Slot(b, i));
    }

    private void addBucket(List<Parameter> ps, Map<Parameter, String> names) {
        List<String> ns = new ArrayList<>();
        for (Parameter p : ps) ns.add(names.get(p));
        buckets.add(new Bucket(buckets.size(), ps, ns));
    }

    // ------------------------------------------------------------------ the reduction, driven by backward

    private void onGradReady(Tensor p) {
        if (!sync) return;
        Slot s = slots.get(p);
        if (s == null) return;
        if (!reducing) {
            for (Bucket b : buckets) b.reset();
            nextLaunch = 0;
            reducing = true;
        }
        Bucket b = s.bucket();
        if (b.ready[s.index()])
            throw new IllegalStateException("DistributedDataParallel: parameter '" + b.names.get(s.index()) + "' got a gradient twice in one synchronised "
                    + "backward (two backward passes before a forward?); accumulate under noSync() and synchronise in the last backward");
        b.ready[s.index()] = true;
        Tensor g = p.grad();
        try (var off = Autodiff.noGrad()) {
            if (g == null) b.views.get(s.index()).zero_();
            else b.views.get(s.index()).copy_(g);
        }
        if (--b.pending == 0) launchReady();
    }

    /** Starts every ready bucket in index order (the same order on every rank), and finishes after the last. */
    private void launchReady() {
        while (nextLaunch < buckets.size() && buckets.get(nextLaunch).pending == 0) {
            Bucket b = buckets.get(nextLaunch++);
            b.work = pg.allReduce(b.flat, ReduceOp.AVG);
        }
        if (nextLaunch == buckets.size()) complete();
    }

    private void complete() {
        try {
            for (Bucket b : buckets) b.work.waitFor();
        } finally {
            reducing = false;   // on failure the group is broken and says so at the next collective
        }
        try (var off = Autodiff.noGrad()) {
            for (Bucket b : buckets)
                for (int i = 0; i < b.params.size(); i++) {
                    Parameter p = b.params.get(i);
                    if (p.grad() == null) p.setGrad(Scope.escape(b.views.get(i).copy()));
                    else p.grad().copy_(b.views.get(i));
                }
        }
    }

    private String unfinished() {
        List<String> missing = new ArrayList<>();
        for (Bucket b : buckets)
            for (int i = 0; i < b.params.size(); i++)
                if (!b.ready[i]) missing.add(b.names.get(i) + " " + Arrays.toString(b.params.get(i).shape()));
        return "DistributedDataParallel on rank " + pg.globalRank(pg.rank()) + ": the last backward did not synchronise the gradients, because "
                + "these parameters got no gradient: " + missing + ". Every parameter that requires grad must take part in the loss on every "
                + "rank; freeze unused ones with requiresGrad(false) before wrapping the model";
    }

    @Override protected String extraRepr() { return "world=" + pg.size() + ", buckets=" + buckets.size(); }
}
