package dev.fluxion.nn;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.Shape;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * A layer or a model: named parameters, buffers and child modules, as torch.nn.Module. Subclasses register
 * what they own in their constructor and implement {@link #forward}; names compose with dots
 * ("blocks.0.attn.qkv.weight") in {@link #namedParameters()} and {@link #stateDict()}.
 */
public abstract class Module {
    private final Map<String, Parameter> parameters = new LinkedHashMap<>();
    private final Map<String, Tensor> buffers = new LinkedHashMap<>();
    private final Map<String, Module> children = new LinkedHashMap<>();
    private boolean training = true;

    /** y = f(x); shapes are documented by each module. */
    public abstract Tensor forward(Tensor x);

    protected final Parameter register(String name, Tensor value) {
        checkName(name);
        Parameter p = value instanceof Parameter q ? q : new Parameter(value);
        parameters.put(name, p);
        return p;
    }

    protected final <M extends Module> M register(String name, M child) {
        checkName(name);
        children.put(name, child);
        return child;
    }

    /** State that is saved and loaded with the module but not trained (running statistics, masks). */
    protected final Tensor registerBuffer(String name, Tensor value) {
        checkName(name);
        Tensor b = dev.fluxion.tensor.Scope.escape(value);
        buffers.put(name, b);
        return b;
    }

    private void checkName(String name) {
        if (name.isEmpty() || name.contains("."))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": name '" + name + "' must be non-empty and contain no '.'");
        if (parameters.containsKey(name) || buffers.containsKey(name) || children.containsKey(name))
            throw new IllegalArgumentException(getClass().getSimpleName() + ": '" + name + "' is already registered");
    }

    public final Map<String, Module> namedChildren() { return java.util.Collections.unmodifiableMap(children); }

    /** Every parameter of this module and its descendants, by dotted name, in registration order. */
    public final Map<String, Parameter> namedParameters() {
        Map<String, Parameter> out = new LinkedHashMap<>();
        collect("", out, m -> m.parameters);
        return out;
    }

    public final List<Parameter> parameters() { return new ArrayList<>(namedParameters().values()); }

    public final Map<String, Tensor> namedBuffers() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        collect("", out, m -> m.buffers);
        return out;
    }

    private <T extends Tensor> void collect(String prefix, Map<String, ? super T> out, java.util.function.Function<Module, Map<String, T>> own) {
        for (var e : own.apply(this).entrySet()) out.put(prefix + e.getKey(), e.getValue());
        for (var c : children.entrySet()) c.getValue().collect(prefix + c.getKey() + ".", out, own);
    }

    /** Number of scalar parameters. */
    public final long parameterCount() {
        long n = 0;
        for (Parameter p : parameters()) n += p.numel();
        return n;
    }

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
        for (Module c : children.values()) c.apply(fn);
        fn.accept(this);
        return this;
    }

    /** Parameters and buffers by dotted name (the tensors themselves, not copies). */
    public final Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>(namedParameters());
        out.putAll(namedBuffers());
        return out;
    }

    /**
     * Copies values into this module's parameters and buffers. Every key must be known and every own key
     * present (strict, as PyTorch's default), with equal shapes; nothing is written unless all checks pass.
     */
    public final void loadStateDict(Map<String, Tensor> state) {
        Map<String, Tensor> own = stateDict();
        TreeSet<String> missing = new TreeSet<>(own.keySet()), unexpected = new TreeSet<>(state.keySet());
        missing.removeAll(state.keySet());
        unexpected.removeAll(own.keySet());
        if (!missing.isEmpty() || !unexpected.isEmpty())
            throw new IllegalArgumentException("loadStateDict: " + getClass().getSimpleName() + " state does not match: missing keys " + missing
                    + ", unexpected keys " + unexpected);
        for (var e : own.entrySet()) {
            Tensor src = state.get(e.getKey());
            if (!Arrays.equals(src.shape(), e.getValue().shape()))
                throw new IllegalArgumentException("loadStateDict: '" + e.getKey() + "' has shape " + Shape.str(src.shape()) + " in the state, "
                        + Shape.str(e.getValue().shape()) + " in the module");
            if (src.dtype() != e.getValue().dtype())
                throw new IllegalArgumentException("loadStateDict: '" + e.getKey() + "' has dtype " + src.dtype() + " in the state, "
                        + e.getValue().dtype() + " in the module");
        }
        try (var off = Autodiff.noGrad()) {
            for (var e : own.entrySet()) e.getValue().copy_(state.get(e.getKey()));
        }
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
                sb.append("  (").append(c.getKey()).append("): ").append(c.getValue().toString().replace("\n", "\n  ")).append('\n');
        }
        return sb.append(')').toString();
    }
}
