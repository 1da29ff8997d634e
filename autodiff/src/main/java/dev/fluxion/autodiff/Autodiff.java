package dev.fluxion.autodiff;

import dev.fluxion.tensor.Save;
import dev.fluxion.tensor.Saved;
import dev.fluxion.tensor.Tensor;

import java.util.function.Function;

/**
 * Controls for reverse-mode differentiation. Ops record themselves on the calling thread's tape whenever
 * an input requires gradients; {@code loss.backward()} consumes the tape.
 *
 * <pre>{@code
 * Tensor w = Tensor.randn(g, 3, 1).requiresGrad(true);
 * Tensor loss = x.matmul(w).sub(y).pow(2).mean();
 * System.out.print(Autodiff.tape());     // the Wengert list of this step
 * loss.backward();                       // w.grad() now holds d loss / d w
 * try (var off = Autodiff.noGrad()) {    // the update itself is not recorded
 *     w.copy_(w.sub(w.grad().mul(0.1)));
 * }
 * }</pre>
 */
public final class Autodiff {
    private Autodiff() {}

    /** Restores the previous recording state when closed. */
    public static final class GradMode implements AutoCloseable {
        private final boolean previous;
        private boolean closed;

        private GradMode(boolean enable) { previous = Engine.setEnabled(enable); }

        @Override public void close() {
            if (!closed) Engine.setEnabled(previous);
            closed = true;
        }
    }

    /** Stops recording on this thread until the returned scope closes (scopes nest). */
    public static GradMode noGrad() { return new GradMode(false); }

    /** Turns recording back on inside a noGrad scope until the returned scope closes. */
    public static GradMode enableGrad() { return new GradMode(true); }

    public static boolean isGradEnabled() { return new Engine().isEnabled(); }

    /** The calling thread's tape (its live entries); printing it lists the Wengert list. */
    public static Tape tape() { return Engine.tape(); }

    /** Restores the previous keep-all state when closed. */
    public static final class KeepAll implements AutoCloseable {
        private final boolean previous;
        private boolean closed;

        private KeepAll() { previous = Engine.setKeepAll(true); }

        @Override public void close() {
            if (!closed) Engine.setKeepAll(previous);
            closed = true;
        }
    }

    /**
     * A diagnostic: until the returned scope closes, every op recorded on this thread keeps all its inputs
     * and its output (as the tape did before each rule chose what to save). Gradients are the same; compare
     * {@code tape().savedBytes()} with and without it to see what saved state saves.
     */
    public static KeepAll keepAllInputs() { return new KeepAll(); }

    /**
     * Gradient checkpointing: runs segment without keeping its intermediates and records one tape entry
     * for it; backward re-runs segment with recording on and backpropagates through that fresh graph.
     * segment must be deterministic (no dropout without a fixed generator state).
     */
    public static Tensor checkpoint(Function<Tensor[], Tensor> segment, Tensor... inputs) {
        return Checkpoint.run(segment, inputs);
    }

    /**
     * Runs hook(leaf) each time a backward pass has finished accumulating leaf's gradient (as PyTorch's
     * register_post_accumulate_grad_hook); distributed data parallelism starts communication from here.
     * Returns an action that removes the hook.
     */
    public static Runnable onGradReady(Tensor leaf, java.util.function.Consumer<Tensor> hook) {
        return GradHooks.add(leaf, hook);
    }

    /**
     * torch.autograd.grad: the gradients of outputs (seeded with gradOutputs, which may be null for one-element
     * outputs) with respect to inputs (leaves or intermediate tensors that require grad), returned instead of
     * accumulated into grad(). retainGraph keeps the graph for another pass; createGraph records the backward
     * itself, so the returned gradients can be differentiated again (Hessian-vector products). An input the
     * outputs do not depend on is an error, or null with allowUnused.
     *
     * <pre>{@code
     * Tensor g = Autodiff.grad(new Tensor[] {loss}, new Tensor[] {w}, null, true, true, false)[0];
     * Tensor hv = Autodiff.grad(g.mul(v).sum(), w);            // the Hessian times v
     * }</pre>
     */
    public static Tensor[] grad(Tensor[] outputs, Tensor[] inputs, Tensor[] gradOutputs, boolean retainGraph, boolean createGraph, boolean allowUnused) {
        return FunctionalGrad.grad(outputs, inputs, gradOutputs, retainGraph, createGraph, allowUnused);
    }

    /** As {@link #grad(Tensor[], Tensor[], Tensor[], boolean, boolean, boolean)} with retainGraph = createGraph and no unused inputs. */
    public static Tensor[] grad(Tensor[] outputs, Tensor[] inputs, Tensor[] gradOutputs, boolean retainGraph, boolean createGraph) {
        return FunctionalGrad.grad(outputs, inputs, gradOutputs, retainGraph, createGraph, false);
    }

    /** The gradient of a one-element output with respect to each input (no graph kept, none created). */
    public static Tensor[] grad(Tensor output, Tensor... inputs) {
        return FunctionalGrad.grad(new Tensor[] {output}, inputs, null, false, false, false);
    }

    /**
     * root.backward(gradient) with PyTorch's create_graph: every leaf's gradient is added into its grad() as a
     * differentiable tensor (for gradient penalties: differentiate a function of w.grad() again). gradient may be
     * null for a one-element root; createGraph false is the ordinary backward.
     */
    public static void backward(Tensor root, Tensor gradient, boolean retainGraph, boolean createGraph) {
        if (createGraph) FunctionalGrad.backwardCreatingGraph(root, gradient, retainGraph);
        else root.backward(gradient, retainGraph);
    }

    /** The second part of a {@link #backwardInputs} pass: the weight gradients it left for later. */
    public interface WeightGradients {
        /** Computes and accumulates the deferred gradients into the leaves' grad(), then frees the graph. Once only. */
        void run();
    }

    /**
     * Backward split in two, as zero-bubble pipeline schedules need (their B and W): computes now only the
     * gradients of the given inputs (leaves that require grad, such as a stage's received activation),
     * running just the work on the paths to them, and returns the rest (every other leaf's gradient: the
     * weights) to {@link WeightGradients#run()} later. The graph stays alive until then. Together the two
     * parts accumulate the same gradients as {@code root.backward(gradient)}. gradient may be null for a
     * one-element root. Graphs with {@link #checkpoint} segments are refused.
     */
    public static WeightGradients backwardInputs(Tensor root, Tensor gradient, Tensor... inputs) {
        return SplitBackward.inputsFirst(root, gradient, inputs);
    }

    /**
     * Runs callback on this thread once the backward pass now running has finished (every rule and gradient
     * hook has run), as PyTorch's {@code Variable._execution_engine.queue_callback}: FSDP waits for its
     * last reduce-scatters and frees gathered parameters there. Callbacks run in the order queued; a failed
     * backward drops them. Throws outside a backward pass.
     */
    public static void queueCallback(Runnable callback) {
        if (callback == null) throw new IllegalArgumentException("queueCallback: callback is null");
        Engine.queueCallback(callback);
    }

    /**
     * Records a custom differentiable function: output = forward(inputs) computed without recording, with
     * rule giving the inputs' gradients (as torch.autograd.Function). Its tape entry keeps every input and
     * the output, since the rule may read any of them.
     */
    public static Tensor function(String name, Function<Tensor[], Tensor> forward, BackwardRule rule, Tensor... inputs) {
        int[] every = new int[inputs.length];
        for (int i = 0; i < every.length; i++) every[i] = i;
        Rule keepsAll = Rule.of(Save.inputs(every).withOutput(), (s, g) -> rule.apply(savedInputs(s), s.output(), g));
        return function(name, forward, Rule.userDefined(keepsAll), inputs);
    }

    /**
     * As {@link #function(String, Function, BackwardRule, Tensor...)}, but the tape entry keeps only what save
     * names: the rule sees null for every input (and the output) not saved. A 4-bit matmul whose weight lives
     * outside the tape saves nothing, so its entry holds no activation.
     */
    public static Tensor function(String name, Function<Tensor[], Tensor> forward, Save save, BackwardRule rule, Tensor... inputs) {
        Rule r = Rule.of(save, (s, g) -> {
            Tensor[] in = new Tensor[s.inputCount()];
            for (int i = 0; i < in.length; i++) if (save.keepsInput(i)) in[i] = s.input(i);
            return rule.apply(in, save.output() ? s.output() : null, g);
        });
        return function(name, forward, Rule.userDefined(r), inputs);
    }

    /** Every input of an entry that saved them all. */
    static Tensor[] savedInputs(Saved s) {
        Tensor[] in = new Tensor[s.inputCount()];
        for (int i = 0; i < in.length; i++) in[i] = s.input(i);
        return in;
    }

    static Tensor function(String name, Function<Tensor[], Tensor> forward, Rule rule, Tensor[] inputs) {
        Tensor out;
        try (var off = noGrad()) {
            out = forward.apply(inputs);
        }
        boolean any = false;
        for (Tensor t : inputs) any |= t.requiresGrad();
        if (any && isGradEnabled()) Engine.record(name, rule, out, inputs, new Tensor[0]);
        return out;
    }
}
