package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * A layer or a model: named parameters, buffers and child modules, as torch.nn.Module. Subclasses register
 * what they own in their constructor and implement {@link #compute}; names compose with dots
 * ("blocks.0.attn.qkv.weight") in {@link #namedParameters()} and {@link #stateDict()}.
 *
 * <p>{@link #forward} is the entry point, as PyTorch's {@code module(x)}: it runs the forward pre-hooks,
 * then {@code compute}, then the forward hooks. It is final so that hooks fire whoever calls it, and
 * composite modules call their children through {@code forward} (or {@link Child#forward}) too. A layer
 * implements {@code compute(Tensor x)}, or {@code compute(Tensor... inputs)} when it takes several
 * inputs (an attention mask, an encoder state); {@code model.forward(x)} and {@code block.forward(x, mask)}
 * both go through the hooks.
 *
 * <p>Children held through a {@link Child} (see {@link #child(String, Module)}) can be replaced after
 * construction by {@link #setSubmodule}: LoRA wraps a Linear in place, FSDP wraps a block.
 *
 * <pre>{@code
 * final class Mlp extends Module {
 *     private final Child<Module> fc1, fc2;
 *
 *     Mlp(Init init) {
 *         fc1 = child("fc1", new Linear(4, 8, true, init));
 *         fc2 = child("fc2", new Linear(8, 2, true, init));
 *     }
 *
 *     protected Tensor compute(Tensor x) { return fc2.forward(fc1.forward(x).relu()); }   // (N, 4) -> (N, 2)
 * }
 * }</pre>
 */
public abstract class Module {
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Child<?>> children = new LinkedHashMap<>();
    private final ForwardHooks hooks = new ForwardHooks();
    private boolean training = true;
    private boolean fieldsChecked;                    // UnregisteredFields found nothing (checked once)

    /** Runs before compute; returns replacement inputs, or null to keep them (torch's register_forward_pre_hook). */
    @FunctionalInterface
    public interface ForwardPreHook {
        /** Called with the module and its inputs; returns replacement inputs or null. */
        Tensor[] apply(Module module, Tensor[] inputs);
    }

    /** Runs after compute; returns a replacement output, or null to keep it (torch's register_forward_hook). */
    @FunctionalInterface
    public interface ForwardHook {
        /** Called with the module, its inputs and its output; returns a replacement output or null. */
        Tensor apply(Module module, Tensor[] inputs, Tensor output);
    }

    /** Removes the hook it was returned for; closing it does the same (try-with-resources for a scoped hook). */
    public interface HookHandle extends AutoCloseable {
        /** Removes the hook; removing twice does nothing. */
        void remove();

        @Override default void close() { remove(); }
    }

    /** y = f(x): pre-hooks, {@link #compute(Tensor)}, hooks. Shapes are documented by each module. */
    public final Tensor forward(Tensor x) { return forward(new Tensor[] {x}); }

    /**
     * y = f(inputs...) for modules that take several inputs ({@code attn.forward(x, mask)}): pre-hooks
     * (which may replace the inputs), {@link #compute(Tensor...)}, hooks (which may replace the output).
     */
    public final Tensor forward(Tensor... inputs) {
        if (!fieldsChecked) checkFields();
        if (hooks.isEmpty()) return compute(inputs);
        Tensor[] in = hooks.runPre(this, inputs);
        return hooks.runPost(this, in, compute(in));
    }

    /** What a one-input layer computes (PyTorch's forward); called by {@link #forward}, never directly. */
    protected Tensor compute(Tensor x) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " implements neither compute(Tensor) nor compute(Tensor...)");
    }

    /**
     * What a layer with several inputs computes; override this instead of {@link #compute(Tensor)}. The
     * default takes exactly one input and calls compute(x).
     */
    protected Tensor compute(Tensor... inputs) {
        if (inputs.length != 1)
            throw new IllegalArgumentException(getClass().getSimpleName() + ".forward: takes 1 input, got " + inputs.length);
        return compute(inputs[0]);
    }

    /** Checks a multi-input module got between min and max inputs (trailing ones may be null, meaning absent). */
    protected final void checkInputs(Tensor[] inputs, int min, int max) {
        if (inputs.length < min || inputs.length > max)
            throw new IllegalArgumentException(getClass().getSimpleName() + ".forward: takes " + (min == max ? min : min + " to " + max)
                    + " inputs, got " + inputs.length);
        for (int i = 0; i < min; i++)
            if (inputs[i] == null) throw new IllegalArgumentException(getClass().getSimpleName() + ".forward: input " + i + " is null");
    }

    /** Runs hook before every forward of this module, in registration order. */
    public final HookHandle registerForwardPreHook(ForwardPreHook hook) { return hooks.addPre(hook); }

    /** Runs hook after every forward of this module, in registration order. */
    public final HookHandle registerForwardHook(ForwardHook hook) { return hooks.addPost(hook); }

    /** Registers value as a parameter under name (wrapped in a Parameter unless it is one) and returns the Parameter to keep in a field. */
    protected final Parameter register(String name, Tensor value) {
        checkName(name);
        Parameter p = value instanceof Parameter q ? q : new Parameter(value);
        parameters.put(name, p);
        return p;
    }

    /**
     * A child kept in a field of its parent's type. {@link #setSubmodule} refuses to replace it, since the
     * field would keep the old one; register children that may be replaced with {@link #child}.
     */
    protected final <M extends Module> M register(String name, M child) {
        checkName(name);
        children.put(name, new Child<>(name, Module.class, child, false));
        return child;
    }

    /** A replaceable child: forward reads it through the returned handle, so a replacement is used. */
    protected final Child<Module> child(String name, Module module) { return child(name, Module.class, module); }

    /** A replaceable child whose replacements must be instances of type (when the parent needs more than forward). */
    protected final <M extends Module> Child<M> child(String name, Class<M> type, M module) {
        checkName(name);
        if (!type.isInstance(module))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": child '" + name + "' must be a " + type.getSimpleName() + ", got "
                    + (module == null ? "null" : module.getClass().getSimpleName()));
        Child<M> c = new Child<>(name, type, module, true);
        children.put(name, c);
        return c;
    }

    /**
     * State that is saved and loaded with the module but not trained (running statistics, masks). Keep the
     * returned tensor (it shares value's elements): {@link #to} converts it in place.
     */
    protected final Tensor registerBuffer(String name, Tensor value) {
        checkName(name);
        Buffer b = new Buffer(value);
        buffers.put(name, b);
        return b;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains("."))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": name '" + name + "' must be non-empty and contain no '.'");
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": '" + name + "' is already registered");
    }

    /** The direct children by name, in registration order. */
    public final Map<String, Module> namedChildren() {
        Map<String, Module> out = new LinkedHashMap<>();
        for (var c : children.entrySet()) out.put(c.getKey(), c.getValue().get());
        return Collections.unmodifiableMap(out);
    }

    /**
     * This module ("") and every descendant by dotted path, parents before children (pre-order), each module
     * once even if it is reachable by several paths (as torch's named_modules).
     */
    public final Map<String, Module> namedModules() {
        Map<String, Module> out = new LinkedHashMap<>();
        collectModules("", out, Collections.newSetFromMap(new IdentityHashMap<>()));
        return out;
    }

    private void collectModules(String path, Map<String, Module> out, Set<Module> seen) {
        if (!seen.add(this)) return;
        out.put(path, this);
        for (var c : children.entrySet()) {
            Module m = c.getValue().get();
            m.collectModules(path.isEmpty() ? c.getKey() : path + "." + c.getKey(), out, seen);
        }
    }

    /** The descendant at a dotted path ("blocks.0.attn.qkv"); "" is this module. Unknown paths throw, naming the children there. */
    public final Module getSubmodule(String path) {
        Module m = this;
        if (path.isEmpty()) return m;
        String at = "";
        for (String name : path.split("\\.", -1)) {
            Child<?> c = m.children.get(name);
            if (c == null) throw new IllegalArgumentException("getSubmodule: no module '" + path + "' in " + getClass().getSimpleName() + ": "
                    + m.describeAt(at) + " has no child '" + name + "'; its children are " + m.children.keySet());
            m = c.get();
            at = at.isEmpty() ? name : at + "." + name;
        }
        return m;
    }

    /**
     * Replaces the module at a dotted path and returns the one it held; forward uses the new module from
     * then on, and its parameters appear under the path in {@link #namedParameters()} and {@link #stateDict()}:
     * a LoRA wrapper is put in place with
     * {@code model.setSubmodule(path, new Lora((Linear) model.getSubmodule(path), rank))}.
     * The path must exist and be held through a {@link Child}; the replacement should take and return the
     * same shapes (not checkable here). Build optimizers after replacing, since parameters change.
     */
    public final Module setSubmodule(String path, Module replacement) {
        if (path.isEmpty()) throw new IllegalArgumentException("setSubmodule: the empty path is the module itself and cannot be replaced");
        if (replacement == null) throw new IllegalArgumentException("setSubmodule: replacement for '" + path + "' is null");
        int dot = path.lastIndexOf('.');
        String parentPath = dot < 0 ? "" : path.substring(0, dot), name = path.substring(dot + 1);
        Module parent = getSubmodule(parentPath);
        Child<?> c = parent.children.get(name);
        if (c == null)
            throw new IllegalArgumentException("setSubmodule: no module '" + path + "' in " + getClass().getSimpleName() + ": "
                    + parent.describeAt(parentPath) + " has no child '" + name + "'; its children are " + parent.children.keySet());
        if (!c.replaceable())
            throw new IllegalArgumentException("setSubmodule: '" + path + "' cannot be replaced: " + parent.describeAt(parentPath)
                    + " keeps it in a field (registered with register(name, module), not child(name, module)), so forward would not see a replacement");
        if (!c.type().isInstance(replacement))
            throw new IllegalArgumentException("setSubmodule: '" + path + "' must hold a " + c.type().getSimpleName() + ", got "
                    + replacement.getClass().getSimpleName());
        Module old = c.get();
        c.set(replacement);
        return old;
    }

    private String describeAt(String path) {
        return (path.isEmpty() ? "the root" : "'" + path + "'") + " (" + getClass().getSimpleName() + ")";
    }

    /**
     * Every parameter of this module and its descendants, by dotted name, in registration order. Fails, naming
     * the field, when a module keeps a module or parameter in a field without registering it.
     */
    public final Map<String, Parameter> namedParameters() {
        for (Module m : namedModules().values()) if (!m.fieldsChecked) m.checkFields();
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect("", out, m -> m.parameters);
        return out;
    }

    /** Fails when a field holds a module or parameter that was never registered (see {@link UnregisteredFields}). */
    private void checkFields() {
        Map<String, Parameter> own = new LinkedHashMap<>();
        collect("", own, m -> m.parameters);
        UnregisteredFields.check(this, namedModules().values(), own.values());
        fieldsChecked = true;
    }

    /** Every parameter of this module and its descendants, in the order of {@link #namedParameters()}. */
    public final List<Parameter> parameters() { return new ArrayList<>(namedParameters().values()); }

    /** Every buffer of this module and its descendants, by dotted name. */
    public final Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, m -> m.buffers);
        return out;
    }

    private <T extends Tensor> void collect(String prefix, Map<String, ? super T> out, java.util.function.Function<Module, Map<String, T>> own) {
        for (var e : own.apply(this).entrySet()) out.put(prefix + e.getKey(), e.getValue());
        for (var c : children.entrySet()) {
            Module m = c.getValue().get();
            m.collect(prefix + c.getKey() + ".", out, own);
        }
    }

    /** Number of scalar parameters. */
    public final long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) n += p.numel();
        return n;
    }

    /** True in training mode (the default), false after {@link #eval()}. */
    public final boolean isTraining() { return training; }

    /** Training mode (dropout active) for this module and every descendant. */
    public final Module train() { return setTraining(true); }

    /** Evaluation mode (dropout off) for this module and every descendant. */
    public final Module eval() { return setTraining(false); }

    private Module setTraining(boolean on) {
        apply(m -> m.training = on);
        return this;
    }

    /** Calls fn on this module and every descendant, children first (as torch's apply). */
    public final Module apply(Consumer<Module> fn) {
        for (Child<?> c : children.values()) c.get().apply(fn);
        fn.accept(this);
        return this;
    }

    /**
     * Converts every floating-point parameter and buffer (and gradient) to dtype, in place: the Parameter
     * objects stay the same (as torch's module.to), so references to them stay valid. Integer buffers are
     * left alone. Convert before creating the optimizer: its state keeps the old dtype.
     */
    public final Module to(DType dtype) {
        if (!dtype.isFloatingPoint())
            throw new IllegalArgumentException("Module.to: dtype must be floating point, got " + dtype + " (integer buffers keep their dtype)");
        return convert(t -> t.dtype().isFloatingPoint() ? t.to(dtype) : t);
    }

    /** Moves every parameter, buffer and gradient to device, keeping the Parameter objects. Move before creating the optimizer. */
    public final Module to(Device device) { return convert(t -> t.to(device)); }

    private Module convert(UnaryOperator<Tensor> fn) {
        try (var off = Autodiff.noGrad()) {
            for (Module m : namedModules().values()) {
                for (Parameter p : m.parameters.values()) {
                    Tensor data = fn.apply(p.detach()), g = p.grad() == null ? null : fn.apply(p.grad());
                    if (data.dtype() == p.dtype() && data.device().equals(p.device())) continue;
                    p.setData(data);
                    p.setGrad(g);
                }
                for (Tensor b : m.buffers.values()) {
                    Tensor data = fn.apply(b.detach());
                    if (data.dtype() != b.dtype() || !data.device().equals(b.device())) ((Buffer) b).setData(data);
                }
            }
        }
        return this;
    }

    /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>(namedParameters());
        out.putAll(namedBuffers());
        return out;
    }

    /** What a non-strict {@link #loadStateDict(Map, boolean)} left out: own keys the state lacked, state keys this module lacks. */
    public record LoadResult(List<String> missingKeys, List<String> unexpectedKeys) {
        /** Keeps unmodifiable copies of the key lists. */
        public LoadResult {
            missingKeys = List.copyOf(missingKeys);
            unexpectedKeys = List.copyOf(unexpectedKeys);
        }
    }

    /**
     * Copies values into this module's parameters and buffers. Every key must be known and every own key
     * present (strict, as PyTorch's default), with equal shapes; nothing is written unless all checks pass.
     */
    public final LoadResult loadStateDict(Map<String, Tensor> state) { return loadStateDict(state, true); }

    /**
     * As {@link #loadStateDict(Map)}; with strict false, missing and unexpected keys are returned instead
     * of refused (a backbone loaded into a model with a new head). Keys present on both sides must agree in
     * shape and dtype either way; nothing is written unless all checks pass.
     */
    public final LoadResult loadStateDict(Map<String, Tensor> state, boolean strict) {
        if (state == null) throw new IllegalArgumentException("loadStateDict: the state is null");
        for (var e : state.entrySet()) {
            if (e.getKey() == null) throw new IllegalArgumentException("loadStateDict: the state has a null key (mapped to " + e.getValue() + ")");
            if (e.getValue() == null) throw new IllegalArgumentException("loadStateDict: '" + e.getKey() + "' maps to null in the state; give a tensor or leave the key out");
        }
        Map<String, Tensor> own = stateDict();
        List<String> missing = new ArrayList<>(), unexpected = new ArrayList<>();
        for (String k : own.keySet()) if (!state.containsKey(k)) missing.add(k);
        for (String k : state.keySet()) if (!own.containsKey(k)) unexpected.add(k);
        if (strict && (!missing.isEmpty() || !unexpected.isEmpty()))
            throw new IllegalArgumentException("loadStateDict: " + getClass().getSimpleName() + " state does not match: missing keys " + new TreeSet<>(missing)
                    + ", unexpected keys " + new TreeSet<>(unexpected));
        for (var e : own.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (src == null) continue;
            if (!Arrays.equals(src.shape(), e.getValue().shape()))
                throw new IllegalArgumentException("loadStateDict: '" + e.getKey() + "' has shape " + Shape.str(src.shape()) + " in the state, "
                        + Shape.str(e.getValue().shape()) + " in the module");
            if (src.dtype() != e.getValue().dtype())
                throw new IllegalArgumentException("loadStateDict: '" + e.getKey() + "' has dtype " + src.dtype() + " in the state, "
                        + e.getValue().dtype() + " in the module");
        }
        try (var off = Autodiff.noGrad()) {
            for (var e : own.entrySet()) {
                Tensor src = state.get(e.getKey());
                if (src != null) e.getValue().copy_(src);
            }
        }
        return new LoadResult(missing, unexpected);
    }

    /** The part inside the parentheses of this module's line in {@link #toString()}, e.g. "784, 128, bias=true". */
    protected String extraRepr() { return ""; }

    /** A readable tree as PyTorch prints it. */
    @Override public String toString() {
        StringBuilder sb = new StringBuilder(getClass().getSimpleName()).append('(');
        if (children.isEmpty()) sb.append(extraRepr());
        else {
            sb.append('\n');
            if (!extraRepr().isEmpty()) sb.append("  ").append(extraRepr()).append('\n');
            for (var c : children.entrySet())
                sb.append("  (").append(c.getKey()).append("): ").append(c.getValue().get().toString().replace("\n", "\n  ")).append('\n');
        }
        return sb.append(')').toString();
    }
}
