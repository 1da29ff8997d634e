package dev.fluxion.optim;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * Updates parameters from their gradients, as torch.optim.Optimizer. An optimizer holds parameter groups
 * (each its own config record: lr, weight decay, ...) and one state record per parameter (momentum buffers,
 * moment estimates, step counts), created on the parameter's first update. Subclasses implement one
 * algorithm in {@link #init} and {@link #update} (the single-tensor reference); {@link #stepGroup} steps a
 * whole group at once and is where a multi-tensor, fused or sharded implementation plugs in.
 *
 * <pre>{@code
 * var opt = new Adam(model.parameters(), Adam.Config.DEFAULT.withLr(1e-3));
 * opt.zeroGrad();
 * loss.backward();
 * opt.step();
 * Map<String, Tensor> saved = opt.stateDict();   // "group.0.lr", "state.3.exp_avg", "state.3.step", ...
 * }</pre>
 *
 * Parameters are numbered across groups in order (the first group's first parameter is 0), as in PyTorch.
 * {@link #stateDict} holds, for each group g: {@code group.g.params} (int64 [n], the parameter numbers) and
 * every setting of its config ({@code group.g.lr}, {@code group.g.weight_decay}, ...: 0-dim float64, bool
 * or int64); for each parameter i that has state: {@code state.i.<field>} (step counts 0-dim int64, buffers
 * with the parameter's shape and dtype). Loading it into an optimizer of the same parameters makes the next
 * steps bitwise identical to an uninterrupted run.
 *
 * @param <C> the config record of a group
 * @param <S> the state record of a parameter
 */
public abstract class Optimizer<C extends Record & OptimizerConfig<C>, S extends Record> {
    private final List<Tensor> params = new ArrayList<>();          // every parameter, numbered across groups
    private final List<C> configs = new ArrayList<>();              // one per group
    private final List<int[]> groupRanges = new ArrayList<>();      // group g holds params [from, to)
    private final List<S> states = new ArrayList<>();               // per parameter, null before its first update
    private final Class<C> configType;
    private final Class<S> stateType;

    /** An optimizer over parameter groups; configType and stateType name the records that state dicts save and load. */
    protected Optimizer(List<ParamGroup<C>> groups, Class<C> configType, Class<S> stateType) {
        this.configType = configType;
        this.stateType = stateType;
        Objects.requireNonNull(groups, name() + ": groups is null");
        if (groups.isEmpty()) throw new IllegalArgumentException(name() + ": no parameter groups");
        Map<Tensor, Integer> seen = new IdentityHashMap<>();
        for (ParamGroup<C> g : groups) {
            int from = params.size();
            for (Tensor p : g.params()) {
                int i = params.size();
                check(p, i);
                Integer before = seen.put(p, i);
                if (before != null)
                    throw new IllegalArgumentException(name() + ": parameter " + i + " is the same tensor as parameter " + before
                            + "; a parameter may appear only once across all groups");
                params.add(p);
                states.add(null);
            }
            configs.add(g.config());
            groupRanges.add(new int[] {from, params.size()});
        }
        if (params.isEmpty()) throw new IllegalArgumentException(name() + ": got an empty parameter list");
    }

    private void check(Tensor p, int i) {
        if (p == null) throw new IllegalArgumentException(name() + ": parameter " + i + " is null");
        if (!p.dtype().isFloatingPoint())
            throw new IllegalArgumentException(name() + ": parameter " + i + " has dtype " + p.dtype() + "; only floating-point tensors can be optimized");
        if (!p.isLeaf())
            throw new IllegalArgumentException(name() + ": parameter " + i + " is not a leaf (it is the output of an op); optimize the tensor it was computed from");
    }

    // ---------------------------------------------------------------- the algorithm

    /** The state of param before its first update (zero buffers, step 0). */
    protected abstract S init(Tensor param, C config);

    /**
     * One update of param from grad: writes param in place (with {@code copy_}) and returns the new state.
     * Runs with gradients off, inside a scope that frees every tensor made here except the returned state's.
     * Tensors of the returned state may be new or taken from state; those of state that are not kept are closed.
     */
    protected abstract S update(Tensor param, Tensor grad, S state, C config);

    /**
     * One group's share of a step, as {@link #stepGroup} sees it: the parameters of the group that have a
     * gradient, in order, with their gradients and their current states (null before a parameter's first
     * update). The lists are parallel, unmodifiable and as long as each other.
     *
     * @param config the group's settings
     */
    protected record GroupStep<C, S>(C config, List<Tensor> params, List<Tensor> grads, List<S> states) {
        /** Checks that params, grads and states have one entry per parameter. */
        public GroupStep {
            if (params.size() != grads.size() || params.size() != states.size())
                throw new IllegalArgumentException("GroupStep: " + params.size() + " params, " + grads.size() + " grads, " + states.size() + " states");
        }

        /** The number of parameters to step. */
        public int size() { return params.size(); }
    }

    /**
     * Steps every parameter of one group and returns their new states, one per parameter in the order of
     * {@code group} (none null). The default runs the single-tensor algorithm: for each parameter, in a scope
     * of its own, {@link #update} from its state (or {@link #init} for its first update). Override it for an
     * implementation that sees the group whole: a multi-tensor or fused kernel (one launch for many
     * parameters), or a sharded optimizer that steps only this rank's slice of each parameter.
     *
     * <p>The contract, which {@link #step} relies on:
     * <ul>
     *   <li>It runs with gradients off, inside a scope that {@code step} closes after it returns: tensors made
     *       here are freed then, except those of the returned states, which {@code step} keeps. Open a scope per
     *       parameter (as the default does) to bound peak memory by the largest parameter, not the group.</li>
     *   <li>Parameters are written in place ({@code copy_} or a kernel that bumps the storage version);
     *       gradients are only read.</li>
     *   <li>A returned state's tensors may be new or taken from the old state (updated in place); the old
     *       state's tensors that the new one does not keep are closed by {@code step}.</li>
     *   <li>States must have the shape that {@link #stateDict} and {@link #loadStateDict} expect (buffers shaped
     *       like the parameter), and {@code update} stays the reference every override is tested against.</li>
     * </ul>
     */
    @SuppressWarnings("try")   // scopes used only for what closing them does
    protected List<S> stepGroup(GroupStep<C, S> group) {
        List<S> next = new ArrayList<>(group.size());
        for (int k = 0; k < group.size(); k++) {
            Tensor p = group.params().get(k);
            S old = group.states().get(k);
            try (var scope = Scope.open()) {
                S s = update(p, group.grads().get(k), old != null ? old : init(p, group.config()), group.config());
                for (Tensor t : StateCodec.tensors(s)) Scope.escape(t);
                next.add(s);
            }
        }
        return next;
    }

    /** Checks that a loaded state fits config (the buffers the settings need are present). */
    protected void checkLoaded(S state, C config, String where) {}

    /** A name for messages ("SGD"). */
    protected String name() { return getClass().getSimpleName(); }

    // ---------------------------------------------------------------- stepping

    /**
     * Updates every parameter that has a gradient (those with a null gradient are skipped, as in PyTorch):
     * one {@link #stepGroup} per group that has any.
     */
    @SuppressWarnings("try")   // scopes used only for what closing them does
    public void step() {
        try (var off = Autodiff.noGrad()) {
            for (int g = 0; g < configs.size(); g++) {
                List<Integer> ids = new ArrayList<>();
                List<Tensor> ps = new ArrayList<>(), grads = new ArrayList<>();
                List<S> olds = new ArrayList<>();
                for (int i = groupRanges.get(g)[0]; i < groupRanges.get(g)[1]; i++) {
                    Tensor p = params.get(i), grad = p.grad();
                    if (grad == null) continue;
                    ids.add(i);
                    ps.add(p);
                    grads.add(grad);
                    olds.add(states.get(i));
                }
                if (ids.isEmpty()) continue;
                List<S> next;
                try (var scope = Scope.open()) {
                    next = stepGroup(new GroupStep<>(configs.get(g), Collections.unmodifiableList(ps),
                            Collections.unmodifiableList(grads), Collections.unmodifiableList(olds)));
                    if (next == null || next.size() != ids.size())
                        throw new IllegalStateException(name() + ".stepGroup: returned " + (next == null ? "null" : next.size() + " states")
                                + " for group " + g + ", expected one state per parameter stepped (" + ids.size() + ")");
                    for (int k = 0; k < next.size(); k++) {
                        if (next.get(k) == null)
                            throw new IllegalStateException(name() + ".stepGroup: returned a null state for parameter " + ids.get(k) + " of group " + g);
                        for (Tensor t : StateCodec.tensors(next.get(k))) Scope.escape(t);
                    }
                }
                for (int k = 0; k < ids.size(); k++) replaceState(ids.get(k), next.get(k));
            }
        }
    }

    /**
     * Sets every gradient to null (PyTorch's zero_grad(set_to_none=True)) and closes the old gradient
     * tensors, so their memory goes back to the pool at once instead of waiting for the garbage collector
     * (fresh pages cost more than the step itself). Do not keep a gradient tensor past zeroGrad().
     */
    public void zeroGrad() {
        for (Tensor p : params) {
            Tensor g = p.grad();
            p.setGrad(null);
            if (g != null) g.free(name() + ".zeroGrad()");
        }
    }

    private void replaceState(int i, S next) {
        S old = states.set(i, next);
        if (old == null) return;
        List<Tensor> kept = next == null ? List.of() : StateCodec.tensors(next);
        for (Tensor t : StateCodec.tensors(old)) {
            boolean stays = false;
            for (Tensor k : kept) stays |= k == t;
            if (!stays) t.close();
        }
    }

    // ---------------------------------------------------------------- groups

    /** The number of parameter groups. */
    public int groupCount() { return configs.size(); }

    /** The settings of one parameter group. */
    public C config(int group) { return configs.get(checkGroup(group)); }

    /** Replaces the settings of a group (the state of its parameters is kept). */
    public void setConfig(int group, C config) {
        configs.set(checkGroup(group), Objects.requireNonNull(config, name() + ".setConfig: config is null"));
    }

    /** The learning rate of one parameter group. */
    public double lr(int group) { return config(group).lr(); }

    /** Sets the learning rate of one parameter group (what LR schedules call). */
    public void setLr(int group, double lr) { setConfig(group, config(group).withLr(lr)); }

    /** The parameters of a group, in order. */
    public List<Tensor> params(int group) {
        int[] r = groupRanges.get(checkGroup(group));
        return List.copyOf(params.subList(r[0], r[1]));
    }

    /** Every parameter, numbered across groups as in {@link #stateDict}. */
    public List<Tensor> params() { return List.copyOf(params); }

    private int checkGroup(int group) {
        if (group < 0 || group >= configs.size())
            throw new IndexOutOfBoundsException(name() + ": group " + group + " does not exist; there are " + configs.size());
        return group;
    }

    // ---------------------------------------------------------------- state dict

    /** A snapshot of the settings and state (copies: later steps do not change it). See the class comment for names. */
    @SuppressWarnings("try")   // scopes used only for what closing them does
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (var off = Autodiff.noGrad()) {
            for (int g = 0; g < configs.size(); g++) {
                int[] r = groupRanges.get(g);
                long[] ids = new long[r[1] - r[0]];
                for (int k = 0; k < ids.length; k++) ids[k] = r[0] + k;
                out.put("group." + g + ".params", Tensor.of(ids, ids.length));
                StateCodec.write(configs.get(g), "group." + g + ".", out);
            }
            for (int i = 0; i < params.size(); i++)
                if (states.get(i) != null) StateCodec.write(states.get(i), "state." + i + ".", out);
        }
        return out;
    }

    /**
     * Restores settings and state from a map made by {@link #stateDict} of an optimizer of the same algorithm
     * over parameters of the same shapes, grouped the same way. Everything is checked before anything changes:
     * a map with missing, unknown or mis-shaped entries is refused and this optimizer is left as it was.
     * Tensors are copied, so the map may be closed afterwards.
     */
    @SuppressWarnings("try")   // scopes used only for what closing them does
    public void loadStateDict(Map<String, Tensor> dict) {
        String owner = name() + ".loadStateDict";
        Objects.requireNonNull(dict, owner + ": state dict is null");
        Set<String> consumed = new HashSet<>();
        List<C> newConfigs = new ArrayList<>();
        for (int g = 0; g < configs.size(); g++) {
            String key = "group." + g + ".params";
            Tensor ids = dict.get(key);
            if (ids == null) throw new IllegalArgumentException(owner + ": missing entry " + key + " (this optimizer has " + configs.size() + " groups)");
            int[] r = groupRanges.get(g);
            long[] expected = new long[r[1] - r[0]];
            for (int k = 0; k < expected.length; k++) expected[k] = r[0] + k;
            if (ids.dtype() != DType.INT64 || ids.dim() != 1 || !Arrays.equals(ids.toLongArray(), expected))
                throw new IllegalArgumentException(owner + ": " + key + " is " + ids.dtype() + " " + Arrays.toString(ids.shape())
                        + (ids.dtype() == DType.INT64 ? " " + Arrays.toString(ids.toLongArray()) : "")
                        + ", expected int64 " + Arrays.toString(expected) + ": the groups differ from this optimizer's");
            consumed.add(key);
            newConfigs.add(StateCodec.read(configType, "group." + g + ".", dict, consumed, null, owner));
        }
        Set<String> withState = new HashSet<>();                   // "state.<i>." prefixes present in dict
        for (String k : dict.keySet()) {
            int dot = k.indexOf('.', "state.".length());
            if (k.startsWith("state.") && dot > 0) withState.add(k.substring(0, dot + 1));
        }
        List<S> loaded = new ArrayList<>();
        for (int i = 0; i < params.size(); i++) {
            String prefix = "state." + i + ".";
            S s = withState.contains(prefix) ? StateCodec.read(stateType, prefix, dict, consumed, params.get(i), owner) : null;
            if (s != null) checkLoaded(s, newConfigs.get(groupOf(i)), owner + ": parameter " + i);
            loaded.add(s);
        }
        Set<String> unknown = new TreeSet<>(dict.keySet());
        unknown.removeAll(consumed);
        if (!unknown.isEmpty())
            throw new IllegalArgumentException(owner + ": unexpected entries " + unknown + " (a state dict of another optimizer, or of other parameters?)");
        try (var off = Autodiff.noGrad()) {
            for (int i = 0; i < params.size(); i++) {
                Tensor p = params.get(i);
                S s = loaded.get(i);
                replaceState(i, s == null ? null : StateCodec.mapTensors(s, t -> Scope.escape(ownCopy(t, p))));
            }
        }
        for (int g = 0; g < configs.size(); g++) configs.set(g, newConfigs.get(g));
    }

    private static Tensor ownCopy(Tensor t, Tensor like) {
        Tensor moved = t.to(like.device());
        return moved == t ? t.copy() : moved;
    }

    private int groupOf(int param) {
        for (int g = 0; g < groupRanges.size(); g++) if (param < groupRanges.get(g)[1]) return g;
        throw new IndexOutOfBoundsException(name() + ": parameter " + param + " does not exist");
    }
}
