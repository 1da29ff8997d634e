package dev.fluxion.parallel.pipeline;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.nn.Gpt;
import dev.fluxion.nn.Losses;
import dev.fluxion.nn.Module;
import dev.fluxion.nn.Parameter;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.Work;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BinaryOperator;
import java.util.function.Function;
import java.util.function.IntFunction;

/**
 * The one interpreter of {@link Schedule}s: on each pipeline rank, runs that rank's actions in order over
 * the process group's send/recv. Activations and gradients travel on two groups of their own (made from
 * the pipeline group when the runner is built), so each direction's messages are matched in order as
 * {@link Simulator} models. Sends are not waited for until the step ends; a receive is waited for at once.
 * Because the two directions travel on different groups (each with its own thread), an activation going
 * down and a gradient coming up between the same two ranks never wait on each other, which is what a
 * combined {@code sendRecv} gives when both share one group. The validator treats sends as eager; the TCP
 * backend's send completes once its bytes are in the socket buffers, so very large activations may hold a
 * group's later operations until the peer reads them. Received activations and gradients are float32
 * tensors on the CPU (the TCP backend's device) unless {@link #activationDtype} says otherwise.
 *
 * <p>A step accumulates into the stages' parameters' {@code grad()} the gradient of the mean of the
 * micro-batch losses (each loss is divided by m), which equals one process's gradient of the whole batch's
 * mean loss when micro-batches are equal in size. The caller zeroes gradients and steps the optimizer.
 *
 * <pre>{@code
 * Schedule s = Schedules.oneForwardOneBackward(pp.size(), 8);
 * var runner = PipelineRunner.forGpt(gpt, s, pp);        // this rank's stages of the model
 * var opt = new AdamW(runner.parameters(), AdamW.Config.DEFAULT);
 * opt.zeroGrad();
 * double loss = runner.step(idsMicroBatches, targetMicroBatches);   // the loss on the last stage's rank, NaN elsewhere
 * opt.step();
 * }</pre>
 */
public final class PipelineRunner implements AutoCloseable {
    private final Schedule schedule;
    private final int rank;
    private final ProcessGroup activations, gradients;
    private final Map<Integer, Module> stages = new LinkedHashMap<>();
    private final BinaryOperator<Tensor> loss;
    private final Function<Tensor, int[]> activationShape;
    private final List<Simulator.Slot> timeline = new ArrayList<>();
    private long stepNanos, computeNanos, peakSavedBytes;
    private int peakInFlight;
    private boolean measureMemory;
    private BackwardScope backwardScope = (stage, last) -> () -> {};
    private dev.fluxion.tensor.DType activationDtype = dev.fluxion.tensor.DType.FLOAT32;

    /**
     * @param schedule        a schedule for pp.size() ranks, validated here
     * @param pp              the pipeline group; this process is its rank pp.rank()
     * @param stageModule     the module of each stage this rank holds (stage s with s % p == rank): stage 0
     *                        takes the micro-batch input, the others the previous stage's output
     * @param loss            (last stage's output, target) -> the micro-batch's scalar loss
     * @param activationShape the shape of an activation (and its gradient) between stages for a micro-batch input
     */
    public PipelineRunner(Schedule schedule, ProcessGroup pp, IntFunction<Module> stageModule, BinaryOperator<Tensor> loss, Function<Tensor, int[]> activationShape) {
        if (schedule.ranks() != pp.size())
            throw new IllegalArgumentException("PipelineRunner: schedule " + schedule.name() + " is for " + schedule.ranks() + " ranks, the group has " + pp.size());
        ScheduleValidator.validate(schedule);
        this.schedule = schedule;
        this.rank = pp.rank();
        this.loss = loss;
        this.activationShape = activationShape;
        for (int s = rank; s < schedule.stages(); s += schedule.ranks()) stages.put(s, stageModule.apply(s));
        int[] all = new int[pp.size()];
        for (int r = 0; r < all.length; r++) all[r] = r;
        this.activations = pp.newGroup(all);
        this.gradients = pp.newGroup(all);
    }

    /**
     * A runner for a {@link Gpt} cut by blocks into schedule.stages() stages (stage k holds blocks
     * [k L / S, (k+1) L / S), the first also the embeddings, the last the final norm and head), with the
     * mean cross-entropy of the logits as the loss. Every rank builds the same whole model (same seed) and
     * keeps its stages.
     */
    public static PipelineRunner forGpt(Gpt gpt, Schedule schedule, ProcessGroup pp) {
        int layers = gpt.config().layers(), S = schedule.stages();
        if (layers < S) throw new IllegalArgumentException("PipelineRunner.forGpt: " + layers + " blocks cannot fill " + S + " stages");
        int width = gpt.config().width();
        return new PipelineRunner(schedule, pp, s -> gpt.stage(s * layers / S, (s + 1) * layers / S), Losses::crossEntropy,
                ids -> new int[] {ids.size(0), ids.size(1), width});
    }

    /** The modules of this rank's stages, by stage. */
    public Map<Integer, Module> stages() { return Map.copyOf(stages); }

    /** Parameters of this rank's stages (for the optimizer). */
    public List<Parameter> parameters() {
        List<Parameter> out = new ArrayList<>();
        for (Module m : stages.values()) out.addAll(m.parameters());
        return out;
    }

    /**
     * Pipeline x data parallelism: averages this rank's stage gradients over dp, the group of ranks that
     * hold the same stages for other slices of the batch (a {@link dev.fluxion.parallel.DeviceMesh}'s "dp"
     * group). Call after {@link #step} and before the optimizer step; every member of dp must call it.
     */
    public void allReduceGradients(ProcessGroup dp) {
        if (dp.size() == 1) return;
        List<Work> pending = new ArrayList<>();
        List<Tensor> grads = new ArrayList<>();
        for (Parameter p : parameters()) {
            if (p.grad() == null)
                throw new IllegalStateException("PipelineRunner.allReduceGradients: parameter " + java.util.Arrays.toString(p.shape()) + " has no gradient; run step() first");
            grads.add(p.grad());
            pending.add(dp.allReduce(p.grad(), dev.fluxion.parallel.ReduceOp.SUM));
        }
        for (Work w : pending) w.waitFor();
        for (Tensor g : grads) g.mul_(1.0 / dp.size());
    }

    /** While on, each step records the peak bytes the autodiff tape keeps for backward ({@link #peakSavedBytes}); costs a scan per forward. */
    public PipelineRunner measureMemory(boolean on) { measureMemory = on; return this; }

    /**
     * The dtype of received activations and gradients (float32 unless set): that of the stages' outputs, so a
     * float64 model (used to compare against one process without float32 noise) pipelines in float64.
     */
    public PipelineRunner activationDtype(dev.fluxion.tensor.DType dtype) {
        if (dtype == null || !dtype.isFloatingPoint())
            throw new IllegalArgumentException("PipelineRunner.activationDtype: must be a floating-point dtype, got " + dtype);
        activationDtype = dtype;
        return this;
    }

    /**
     * What runs around each backward of a stage: gradient accumulation for a wrapper that communicates in
     * backward (FSDP, DDP) opens a no-sync scope for all but a stage's last backward of the step.
     */
    @FunctionalInterface
    public interface BackwardScope {
        /** Opened before a backward of stage; lastOfStep is true for the stage's last backward in this step. */
        AutoCloseable open(int stage, boolean lastOfStep);
    }

    /** Sets the scope each backward runs in (none by default); only for schedules whose backwards are whole (not split into input and weight parts). */
    public PipelineRunner backwardScope(BackwardScope scope) {
        for (Action a : schedule.actions(rank))
            if (a.kind() == Action.Kind.BACKWARD_INPUT)
                throw new IllegalArgumentException("PipelineRunner.backwardScope: schedule " + schedule.name()
                        + " splits backward into input and weight parts; a scope around whole backwards needs gpipe, 1f1b or interleaved");
        backwardScope = scope;
        return this;
    }

    /** Per-micro-batch state of one stage. */
    private static final class Slot {
        Tensor input, output, outputGrad;
        Autodiff.WeightGradients weights;
    }

    /**
     * Runs one step of the schedule: inputs.get(i) is micro-batch i's input (used by stage 0's rank),
     * targets.get(i) its target (used by the last stage's rank); both lists hold m items on every rank (a
     * rank ignores what it does not need). Returns the mean micro-batch loss on the rank of the last
     * stage, NaN on the others.
     */
    public double step(List<Tensor> inputs, List<Tensor> targets) {
        int m = schedule.microbatches(), S = schedule.stages();
        if (inputs.size() != m || targets.size() != m)
            throw new IllegalArgumentException("PipelineRunner.step: " + inputs.size() + " inputs and " + targets.size() + " targets for " + m + " micro-batches");
        for (int i = 1; i < m; i++)     // each loss is divided by m: only equal sizes give the whole batch's mean
            if (!java.util.Arrays.equals(inputs.get(i).shape(), inputs.get(0).shape()))
                throw new IllegalArgumentException("PipelineRunner.step: micro-batch " + i + " has shape " + java.util.Arrays.toString(inputs.get(i).shape())
                        + ", micro-batch 0 " + java.util.Arrays.toString(inputs.get(0).shape()) + "; split the batch into equal micro-batches");
        Map<Long, Slot> slots = new HashMap<>();
        List<Work> sends = new ArrayList<>();
        List<Tensor> sent = new ArrayList<>();           // kept alive until their sends complete
        timeline.clear();
        computeNanos = 0;
        peakSavedBytes = 0;
        peakInFlight = 0;
        int inFlight = 0;
        int[] backwardsDone = new int[S];
        double total = 0;
        long t0 = System.nanoTime();
        for (Action a : schedule.actions(rank)) {
            int s = a.stage(), i = a.microbatch();
            Slot slot = slots.computeIfAbsent((long) s * m + i, k -> new Slot());
            long start = System.nanoTime();
            boolean compute = !a.kind().isTransfer();
            switch (a.kind()) {
                case FORWARD -> {
                    Tensor x;
                    if (s == 0) x = inputs.get(i);
                    else {
                        if (slot.input == null) {                     // the previous stage is on this rank: hand over its output
                            Slot prev = slots.get((long) (s - 1) * m + i);
                            slot.input = prev.output.detach().requiresGrad(true);
                        }
                        x = slot.input;
                    }
                    Tensor y = stages.get(s).forward(x);
                    slot.output = s == S - 1 ? loss.apply(y, targets.get(i)).div(m) : y;
                    if (s == S - 1) total += slot.output.item();
                    inFlight++;
                    peakInFlight = Math.max(peakInFlight, inFlight);
                    if (measureMemory) peakSavedBytes = Math.max(peakSavedBytes, Autodiff.tape().savedBytes());
                }
                case BACKWARD, BACKWARD_INPUT -> {
                    Tensor seed = s == S - 1 ? null : outputGradOf(slot, slots, s, i, m);
                    if (a.kind() == Action.Kind.BACKWARD) {
                        try (AutoCloseable scope = backwardScope.open(s, ++backwardsDone[s] == m)) {
                            if (seed == null) slot.output.backward(); else slot.output.backward(seed);
                        } catch (RuntimeException | Error e) {
                            throw e;
                        } catch (Exception e) {
                            throw new IllegalStateException("PipelineRunner: closing the backward scope of stage " + s + " failed: " + e, e);
                        }
                        inFlight--;
                    } else {
                        slot.weights = s == 0 ? Autodiff.backwardInputs(slot.output, seed) : Autodiff.backwardInputs(slot.output, seed, slot.input);
                    }
                    slot.output = null;
                    slot.outputGrad = null;
                }
                case BACKWARD_WEIGHT -> {
                    slot.weights.run();
                    slot.weights = null;
                    inFlight--;
                }
                case SEND_ACTIVATION -> {
                    Tensor y = slot.output.detach().contiguous();
                    sent.add(y);
                    sends.add(activations.send(y, schedule.rankOf(s + 1)));
                }
                case RECV_ACTIVATION -> {
                    Tensor buf = Tensor.zeros(activationDtype, activationShape.apply(inputs.get(i)));
                    activations.recv(buf, schedule.rankOf(s - 1)).waitFor();
                    slot.input = buf.requiresGrad(true);
                }
                case SEND_GRADIENT -> {
                    Tensor g = slot.input.grad().contiguous();
                    sent.add(g);
                    sends.add(gradients.send(g, schedule.rankOf(s - 1)));
                    slot.input = null;
                }
                case RECV_GRADIENT -> {
                    Tensor buf = Tensor.zeros(activationDtype, activationShape.apply(inputs.get(i)));
                    gradients.recv(buf, schedule.rankOf(s + 1)).waitFor();
                    slot.outputGrad = buf;
                }
            }
            long end = System.nanoTime();
            if (compute) computeNanos += end - start;
            timeline.add(new Simulator.Slot(rank, a, (start - t0) / 1e9, (end - t0) / 1e9));
        }
        for (Work w : sends) w.waitFor();
        stepNanos = System.nanoTime() - t0;
        return stages.containsKey(S - 1) ? total : Double.NaN;
    }

    /** The gradient of stage s's output for micro-batch i: received, or handed over by stage s+1 on this rank. */
    private Tensor outputGradOf(Slot slot, Map<Long, Slot> slots, int s, int i, int m) {
        if (slot.outputGrad != null) return slot.outputGrad;
        Slot next = slots.get((long) (s + 1) * m + i);
        Tensor g = next.input.grad();
        next.input = null;
        return g;
    }

    /** Wall time of the last step (seconds). */
    public double lastStepSeconds() { return stepNanos / 1e9; }

    /** Time the last step spent computing, not waiting for receives (seconds). */
    public double lastComputeSeconds() { return computeNanos / 1e9; }

    /** The last step's actions with their measured start and end (seconds from the step's start). */
    public List<Simulator.Slot> lastTimeline() { return List.copyOf(timeline); }

    /** Most (stage, micro-batch) activations this rank held at once in the last step. */
    public int lastPeakInFlight() { return peakInFlight; }

    /** With {@link #measureMemory}: the most bytes the tape kept for backward after any forward of the last step. */
    public long lastPeakSavedBytes() { return peakSavedBytes; }

    /** Closes the two transfer groups (not the pipeline group). */
    @Override public void close() {
        activations.close();
        gradients.close();
    }
}
