package dev.fluxion.parallel.tensor;

import dev.fluxion.nn.Module;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Module path patterns mapped to {@link ParallelStyle}s, applied in order (PyTorch's parallelize_module
 * plan). A pattern is a dotted path in which "*" matches any one name: "blocks.*.mlp.0".
 *
 * <pre>{@code
 * var plan = ParallelizePlan.of()
 *         .with("blocks.*.mlp.0", ParallelStyle.colwise())
 *         .with("blocks.*.mlp.2", ParallelStyle.rowwise());
 * plan.apply(model, new TpContext(mesh.group("tp"), false, init.generator()));
 * }</pre>
 */
public final class ParallelizePlan {
    private final Map<String, ParallelStyle> styles = new LinkedHashMap<>();

    private ParallelizePlan() {}

    /** An empty plan. */
    public static ParallelizePlan of() { return new ParallelizePlan(); }

    /** Adds pattern -> style (applied after the ones added before). */
    public ParallelizePlan with(String pattern, ParallelStyle style) {
        if (styles.put(pattern, style) != null) throw new IllegalArgumentException("ParallelizePlan: pattern '" + pattern + "' is given twice");
        return this;
    }

    /** The patterns, in order. */
    public List<String> patterns() { return List.copyOf(styles.keySet()); }

    /**
     * Replaces every module whose path matches a pattern by its style's result (through
     * {@link Module#setSubmodule}, so the paths must be replaceable children) and returns model. Every
     * pattern must match at least one module. Build the optimizer afterwards: parameters change.
     */
    public Module apply(Module model, TpContext ctx) {
        for (var e : styles.entrySet()) {
            List<String> hits = new ArrayList<>();
            for (String path : model.namedModules().keySet()) if (matches(e.getKey(), path)) hits.add(path);
            if (hits.isEmpty())
                throw new IllegalArgumentException("ParallelizePlan: pattern '" + e.getKey() + "' matches no module of " + model.getClass().getSimpleName()
                        + "; its modules are " + model.namedModules().keySet());
            for (String path : hits) {
                Module replacement = e.getValue().apply(model.getSubmodule(path), ctx);
                if (replacement != model.getSubmodule(path)) model.setSubmodule(path, replacement);
            }
        }
        return model;
    }

    static boolean matches(String pattern, String path) {
        if (path.isEmpty()) return false;
        String[] p = pattern.split("\\."), q = path.split("\\.");
        if (p.length != q.length) return false;
        for (int i = 0; i < p.length; i++) if (!p[i].equals("*") && !p[i].equals(q[i])) return false;
        return true;
    }
}
