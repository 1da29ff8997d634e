package dev.fluxion.parallel.ps;

import dev.fluxion.nn.io.TrainingCheckpoint;
import dev.fluxion.optim.Optimizer;
import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.logging.Logger;

/**
 * One server's shard and the rules of {@link Consistency}: the values (a flat float32 tensor), the server-side
 * optimizer over it, every worker's clock, and which workers are alive. No networking: {@link ParameterServer}
 * calls it from one thread per connection; every method holds this object's lock, and waits release it.
 */
final class ShardState {
    private static final Logger LOG = Logger.getLogger("dev.fluxion.parallel");

    /** What a pull returns: the values and the clock c such that every live worker's pushes of steps < c are in them. */
    record Pulled(float[] values, long includedClock) {}

    /** A request that the rules refuse (the message says why); the connection answers it with an error. */
    static final class Refused extends RuntimeException {
        Refused(String message) { super(message); }
    }

    private final Consistency consistency;
    private final int workers;                       // the job's nominal worker count: BSP waits for all, SSP/ASP scale by it
    private final Duration workerTimeout;
    private final Tensor values;                     // (n) float32, the shard
    private final Optimizer<?, ?> optimizer;
    private final float[] bspSum;                    // BSP: the gradients pushed for step `applied`, summed
    private final Set<Integer> bspPushed = new HashSet<>();
    private final Map<Integer, Long> clocks = new TreeMap<>();        // worker -> number of steps it has pushed
    private final Map<Integer, Long> lastSeen = new HashMap<>();      // live workers -> System.nanoTime() of their last message
    private final Map<Integer, Integer> pulling = new HashMap<>();    // live workers waiting in pull (alive though silent)
    private final Set<Integer> dropped = new HashSet<>();
    private final Set<Integer> everJoined = new HashSet<>();          // the job starts once `workers` of them have come
    private boolean closed;
    private long applied;                            // BSP: steps applied; SSP/ASP: pushes applied

    ShardState(float[] initial, Consistency consistency, int workers, Function<List<Tensor>, Optimizer<?, ?>> optimizer, Duration workerTimeout) {
        if (workers < 1) throw new IllegalArgumentException("ParameterServer: workers must be >= 1, got " + workers);
        this.consistency = consistency;
        this.workers = workers;
        this.workerTimeout = workerTimeout;
        this.values = Scope.escape(Tensor.of(initial.clone(), initial.length));
        this.optimizer = optimizer.apply(List.of(values));
        this.bspSum = consistency.mode() == Consistency.Mode.BSP ? new float[initial.length] : null;
    }

    int size() { return (int) values.numel(); }

    Consistency consistency() { return consistency; }

    /** Admits a worker (new, or back after a reconnect); returns the clock it starts at. */
    synchronized long join(int worker) {
        if (consistency.mode() == Consistency.Mode.BSP) {
            if (worker < 0 || worker >= workers)
                throw new Refused("BSP has the fixed workers 0.." + (workers - 1) + "; worker " + worker + " cannot join");
            if (lastSeen.containsKey(worker)) throw new Refused("worker " + worker + " is already connected");
            clocks.put(worker, applied);
            dropped.remove(worker);
        } else {
            if (lastSeen.containsKey(worker)) throw new Refused("worker " + worker + " is already connected");
            // a newcomer starts at the slowest live clock, so that it holds nobody back and pulls current values
            long start = liveMinClock(Long.MAX_VALUE);
            if (start == Long.MAX_VALUE) start = clocks.values().stream().mapToLong(Long::longValue).max().orElse(0);
            clocks.put(worker, Math.max(start, clocks.getOrDefault(worker, 0L)));
            dropped.remove(worker);
        }
        lastSeen.put(worker, System.nanoTime());
        everJoined.add(worker);
        changed();
        return clocks.get(worker);
    }

    /** The worker's connection ended: BSP keeps its slot (it must come back), SSP/ASP forget it. */
    synchronized void leave(int worker, String why) {
        if (lastSeen.remove(worker) == null) return;
        LOG.fine("parameter server: worker " + worker + " left (" + why + ")");
        dropped.add(worker);
        changed();
    }

    /** Applies (SSP/ASP) or accumulates (BSP) the worker's gradient of step clock; grad is dense, zero where nothing was sent. */
    synchronized void push(int worker, long clock, float[] grad) {
        seen(worker);
        if (grad.length != size()) throw new Refused("push of " + grad.length + " elements to a shard of " + size());
        if (consistency.mode() == Consistency.Mode.BSP) {
            if (clock != applied)
                throw new Refused("worker " + worker + " pushed its gradient of step " + clock + " while BSP is at step " + applied
                        + " (pull before each step)");
            if (!bspPushed.add(worker)) throw new Refused("worker " + worker + " pushed step " + clock + " twice");
            for (int i = 0; i < grad.length; i++) bspSum[i] += grad[i];
            clocks.put(worker, clock + 1);
            if (bspPushed.size() == workers) {
                for (int i = 0; i < bspSum.length; i++) bspSum[i] /= workers;
                step(bspSum, 1);
                java.util.Arrays.fill(bspSum, 0);
                bspPushed.clear();
                applied++;
            }
        } else {
            if (clock < clocks.getOrDefault(worker, 0L))
                throw new Refused("worker " + worker + " pushed its gradient of step " + clock + ", but it is at clock " + clocks.get(worker)
                        + " (a gradient pushed twice?)");
            step(grad, 1.0 / workers);
            clocks.merge(worker, clock + 1, Math::max);
            applied++;
        }
        changed();
    }

    private void step(float[] grad, double scale) {
        try (var scope = Scope.open()) {
            Tensor g = Tensor.of(grad.clone(), grad.length);
            values.setGrad(scale == 1 ? g : g.mul(scale));
            optimizer.step();
        } finally {
            values.setGrad(null);
        }
    }

    /**
     * The values for the worker about to compute step clock, once the rules allow it, or a {@link Refused}
     * naming the workers it waited for when deadline passes first.
     */
    synchronized Pulled pull(int worker, long clock, Deadline deadline) {
        seen(worker);
        pulling.merge(worker, 1, Integer::sum);
        try {
            while (true) {
                // nobody computes before the whole starting set has joined: a late starter would otherwise
                // count as a newcomer and join at the others' clock, skipping steps
                long have = everJoined.size() < workers ? Long.MIN_VALUE : included();
                long need = switch (consistency.mode()) {
                    case BSP -> clock;
                    case SSP -> clock - consistency.staleness();
                    case ASP -> Long.MIN_VALUE + 1;
                };
                if (have >= need) return new Pulled(values.toFloatArray(), have);
                if (consistency.mode() == Consistency.Mode.BSP) {
                    for (int w : dropped)
                        throw new Refused("BSP step " + clock + " cannot complete: worker " + w + " has left (at clock " + clocks.get(w) + ")");
                }
                if (closed) throw new Refused("the server is shutting down");
                if (deadline.passed())
                    throw new Refused("pull for step " + clock + " by worker " + worker + " timed out waiting for "
                            + (everJoined.size() < workers ? "the job's " + workers + " workers to join (" + everJoined.size() + " have)" : laggards(need)));
                try { wait(Math.min(200, deadline.millisLeft())); } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new Refused("interrupted");
                }
            }
        } finally {
            if (pulling.merge(worker, -1, Integer::sum) == 0) pulling.remove(worker);
        }
    }

    /** The clock c such that the values include every live worker's pushes of steps < c; drops silent workers first. */
    private long included() {
        if (consistency.mode() == Consistency.Mode.BSP) return applied;
        dropSilent();
        long min = liveMinClock(Long.MAX_VALUE);
        return min == Long.MAX_VALUE ? clocks.values().stream().mapToLong(Long::longValue).max().orElse(0) : min;
    }

    private long liveMinClock(long none) {
        long min = none;
        for (int w : lastSeen.keySet()) min = Math.min(min, clocks.getOrDefault(w, 0L));
        return min;
    }

    private void dropSilent() {
        long now = System.nanoTime(), limit = workerTimeout.toNanos();
        for (var it = lastSeen.entrySet().iterator(); it.hasNext(); ) {
            var e = it.next();
            if (pulling.containsKey(e.getKey()) || now - e.getValue() <= limit) continue;
            LOG.warning("parameter server: dropped worker " + e.getKey() + " at clock " + clocks.get(e.getKey()) + ": silent for more than "
                    + Deadline.format(workerTimeout));
            dropped.add(e.getKey());
            it.remove();
            changed();
        }
    }

    private String laggards(long need) {
        List<String> slow = new java.util.ArrayList<>();
        for (int w : lastSeen.keySet())
            if (clocks.getOrDefault(w, 0L) < need) slow.add("worker " + w + " at clock " + clocks.getOrDefault(w, 0L));
        return slow.isEmpty() ? "clock " + need : String.join(", ", slow) + " (need clock " + need + ")";
    }

    private void seen(int worker) {
        if (dropped.contains(worker) || !lastSeen.containsKey(worker))
            throw new Refused("worker " + worker + " is not connected to this server (dropped after a timeout?); connect again to rejoin");
        lastSeen.put(worker, System.nanoTime());
    }

    private void changed() {
        notifyAll();
    }

    /** Wakes and fails every waiting pull: the server is going away. */
    synchronized void close() {
        closed = true;
        notifyAll();
    }

    /** Live workers, in order. */
    synchronized List<Integer> liveWorkers() { return List.copyOf(new java.util.TreeSet<>(lastSeen.keySet())); }

    /** The workers' clocks (pushes counted), live or not. */
    synchronized Map<Integer, Long> clocks() { return Map.copyOf(clocks); }

    /** BSP: steps applied; SSP/ASP: pushes applied. */
    synchronized long applied() { return applied; }

    // ------------------------------------------------------------------ checkpoints

    /** A snapshot: sections "shard" (values), "optim" (the optimizer's state dict), "clocks" (applied, worker.W). */
    synchronized TrainingCheckpoint snapshot(long fingerprint) {
        Map<String, Tensor> clockSection = new LinkedHashMap<>();
        clockSection.put("applied", Tensor.of(new long[] {applied}, 1));
        clocks.forEach((w, c) -> clockSection.put("worker." + w, Tensor.of(new long[] {c}, 1)));
        Map<String, Map<String, Tensor>> sections = new LinkedHashMap<>();
        sections.put("shard", Map.of("values", values.copy()));
        sections.put("optim", optimizer.stateDict());
        sections.put("clocks", clockSection);
        return new TrainingCheckpoint(consistency.mode() == Consistency.Mode.BSP ? applied : included(), sections,
                Map.of("consistency", consistency.toString(), "fingerprint", Long.toString(fingerprint), "workers", Integer.toString(workers)));
    }

    /** Restores a snapshot of a server with the same layout (the fingerprint and the shard size are checked). */
    synchronized void restore(TrainingCheckpoint c, long fingerprint) {
        String fp = c.metadata().get("fingerprint");
        if (!Long.toString(fingerprint).equals(fp))
            throw new IllegalArgumentException("ParameterServer: the checkpoint is of another layout (fingerprint " + fp + ", this server " + fingerprint + ")");
        Tensor v = c.section("shard").get("values");
        if (v == null || v.numel() != values.numel())
            throw new IllegalArgumentException("ParameterServer: the checkpoint's shard has " + (v == null ? "no values" : v.numel() + " elements")
                    + ", this server " + values.numel());
        optimizer.loadStateDict(c.section("optim"));
        values.copy_(v.reshape(-1));
        applied = c.section("clocks").get("applied").toLongArray()[0];
        clocks.clear();
        if (consistency.elastic())   // BSP workers rejoin at the applied step; SSP/ASP ones keep their clocks
            c.section("clocks").forEach((k, t) -> { if (k.startsWith("worker.")) clocks.put(Integer.parseInt(k.substring(7)), t.toLongArray()[0]); });
        everJoined.addAll(clocks.keySet());
        changed();
    }
}
