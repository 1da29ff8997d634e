package dev.fluxion.parallel.localsgd;

import dev.fluxion.autodiff.Autodiff;
import dev.fluxion.parallel.ProcessGroup;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.optim.SGD;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Scope;
import dev.fluxion.tensor.Tensor;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Local SGD and DiLoCo (Douillard et al. 2023) on any process group: every rank takes H steps of its own inner
 * optimizer (AdamW in DiLoCo) on its own data, then the ranks all-reduce the parameter deltas
 * {@code anchor - local} (the "outer gradient", averaged) and an outer SGD with Nesterov momentum steps the
 * shared anchor, which every rank then copies into its parameters.
 *
 * <pre>{@code
 * var inner = new AdamW(model.parameters(), AdamW.Config.DEFAULT.withLr(3e-4));
 * var diloco = new DiLoCo(model.parameters(), pg, DiLoCo.Config.DEFAULT.withLocalSteps(50));
 * for (...) { loss.backward(); inner.step(); inner.zeroGrad(); diloco.afterInnerStep(); }   // syncs every 50th call
 * }</pre>
 *
 * With H = 1, outer lr 1 and no outer momentum, the anchor becomes the mean of the ranks' parameters after one
 * inner step, which for an inner optimizer linear in the gradient (SGD, with or without momentum) is exactly
 * data-parallel training (DDP). Parameters are broadcast from rank 0 at construction. Each synchronisation is
 * one all-reduce per dtype of all parameters packed flat; {@link #bytesSent()} counts what the ring all-reduce
 * sends from this rank (2 (n-1)/n of the packed bytes each time).
 */
public final class DiLoCo {
    /**
     * @param localSteps H, inner steps between synchronisations (>= 1)
     * @param outerLr the outer SGD's learning rate (DiLoCo: 0.7; plain local SGD averaging: 1)
     * @param outerMomentum the outer SGD's momentum (DiLoCo: 0.9; 0 for plain averaging)
     * @param nesterov Nesterov momentum for the outer step (needs outerMomentum > 0)
     */
    public record Config(int localSteps, double outerLr, double outerMomentum, boolean nesterov) {
        /** The paper's outer optimizer: SGD lr 0.7, Nesterov momentum 0.9; H = 500. */
        public static final Config DEFAULT = new Config(500, 0.7, 0.9, true);

        public Config {
            if (localSteps < 1) throw new IllegalArgumentException("DiLoCo.Config: localSteps must be >= 1, got " + localSteps);
            if (!(outerLr > 0) || !Double.isFinite(outerLr)) throw new IllegalArgumentException("DiLoCo.Config: outerLr must be > 0, got " + outerLr);
            if (!(outerMomentum >= 0 && outerMomentum < 1)) throw new IllegalArgumentException("DiLoCo.Config: outerMomentum must be in [0, 1), got " + outerMomentum);
            if (nesterov && outerMomentum == 0) throw new IllegalArgumentException("DiLoCo.Config: nesterov needs outerMomentum > 0");
        }

        /** Plain local SGD (periodic averaging): outer lr 1, no momentum. */
        public static Config localSgd(int localSteps) { return new Config(localSteps, 1, 0, false); }

        public Config withLocalSteps(int h) { return new Config(h, outerLr, outerMomentum, nesterov); }
        public Config withOuterLr(double lr) { return new Config(localSteps, lr, outerMomentum, nesterov); }
        public Config withOuterMomentum(double m, boolean nesterov) { return new Config(localSteps, outerLr, m, nesterov); }
    }

    private final List<Tensor> params;     // the model's, written in place at each synchronisation
    private final List<Tensor> anchors;    // the shared model of the last synchronisation, one per parameter (same shapes)
    private final SGD outer;
    private final ProcessGroup pg;
    private final Config config;
    private long innerSteps;
    private long syncs;
    private long bytesSent;

    /** Broadcasts rank 0's parameters to every rank and takes them as the first anchor. */
    public DiLoCo(List<? extends Tensor> params, ProcessGroup pg, Config config) {
        if (params.isEmpty()) throw new IllegalArgumentException("DiLoCo: no parameters");
        this.params = List.copyOf(params);
        this.pg = pg;
        this.config = config;
        try (var off = Autodiff.noGrad()) {
            for (List<Tensor> g : byDType(this.params).values()) {
                Tensor flat = pack(g);
                pg.broadcast(flat, 0).waitFor();
                unpack(flat, g);
                flat.close();
            }
            List<Tensor> a = new ArrayList<>();
            for (Tensor p : this.params) a.add(Scope.escape(p.detach().copy()));
            this.anchors = List.copyOf(a);
        }
        var sgd = SGD.Config.DEFAULT.withLr(config.outerLr()).withMomentum(config.outerMomentum()).withNesterov(config.nesterov());
        this.outer = new SGD(anchors, sgd);
    }

    public Config config() { return config; }

    /** Counts one inner step; every H-th call synchronises (see {@link #synchronize()}) and returns true. */
    public boolean afterInnerStep() {
        innerSteps++;
        if (innerSteps % config.localSteps() != 0) return false;
        synchronize();
        return true;
    }

    /**
     * The outer step, now: averages {@code anchor - param} over the ranks, steps the anchors with the outer SGD,
     * and copies them into the parameters. Every rank must call it at the same point.
     */
    @SuppressWarnings("try")
    public void synchronize() {
        try (var off = Autodiff.noGrad(); var scope = Scope.open()) {
            Map<DType, List<Integer>> groups = new LinkedHashMap<>();
            for (int i = 0; i < params.size(); i++) groups.computeIfAbsent(params.get(i).dtype(), d -> new ArrayList<>()).add(i);
            for (List<Integer> ids : groups.values()) {
                List<Tensor> deltas = new ArrayList<>();
                for (int i : ids) deltas.add(anchors.get(i).sub(params.get(i).detach()));
                Tensor flat = pack(deltas);
                pg.allReduce(flat, ReduceOp.AVG).waitFor();
                long bytes = flat.numel() * flat.dtype().byteSize();
                bytesSent += 2L * (pg.size() - 1) * bytes / pg.size();
                long off2 = 0;
                for (int i : ids) {
                    Tensor a = anchors.get(i);
                    int n = (int) a.numel();
                    a.setGrad(Scope.escape(flat.narrow(0, (int) off2, n).view(a.shape()).copy()));
                    off2 += n;
                }
            }
            outer.step();
            outer.zeroGrad();
            for (int i = 0; i < params.size(); i++) params.get(i).copy_(anchors.get(i));
        }
        syncs++;
    }

    /** Inner steps counted so far. */
    public long innerSteps() { return innerSteps; }

    /** Synchronisations so far. */
    public long synchronizations() { return syncs; }

    /** Bytes this rank has sent in synchronisations (ring all-reduce: 2 (n-1)/n of the packed deltas each). */
    public long bytesSent() { return bytesSent; }

    /**
     * The state a resumed run needs besides the model and the inner optimizer: "anchor.i" (the shared model),
     * "outer.*" (the outer SGD's state dict) and "inner_steps" (0-dim int64). Copies.
     */
    public Map<String, Tensor> stateDict() {
        Map<String, Tensor> out = new LinkedHashMap<>();
        try (var off = Autodiff.noGrad()) {
            for (int i = 0; i < anchors.size(); i++) out.put("anchor." + i, anchors.get(i).copy());
            outer.stateDict().forEach((k, v) -> out.put("outer." + k, v));
            out.put("inner_steps", Tensor.of(new long[] {innerSteps}, 1));
        }
        return out;
    }

    /** Restores what {@link #stateDict()} saved (same parameters, same shapes). */
    public void loadStateDict(Map<String, Tensor> dict) {
        Map<String, Tensor> outerDict = new LinkedHashMap<>();
        dict.forEach((k, v) -> { if (k.startsWith("outer.")) outerDict.put(k.substring("outer.".length()), v); });
        try (var off = Autodiff.noGrad()) {
            for (int i = 0; i < anchors.size(); i++) {
                Tensor a = dict.get("anchor." + i);
                if (a == null || !java.util.Arrays.equals(a.shape(), anchors.get(i).shape()))
                    throw new IllegalArgumentException("DiLoCo.loadStateDict: anchor." + i + " is " + (a == null ? "missing" : java.util.Arrays.toString(a.shape()))
                            + ", expected " + java.util.Arrays.toString(anchors.get(i).shape()));
                anchors.get(i).copy_(a);
            }
        }
        outer.loadStateDict(outerDict);
        Tensor n = dict.get("inner_steps");
        if (n == null) throw new IllegalArgumentException("DiLoCo.loadStateDict: missing inner_steps");
        innerSteps = n.toLongArray()[0];
    }

    // ------------------------------------------------------------------ packing

    private static Map<DType, List<Tensor>> byDType(List<Tensor> ts) {
        Map<DType, List<Tensor>> m = new LinkedHashMap<>();
        for (Tensor t : ts) m.computeIfAbsent(t.dtype(), d -> new ArrayList<>()).add(t);
        return m;
    }

    private static Tensor pack(List<Tensor> ts) {
        List<Tensor> flat = new ArrayList<>();
        for (Tensor t : ts) flat.add(t.detach().reshape(-1));
        return Tensor.cat(flat, 0).contiguous();
    }

    private static void unpack(Tensor flat, List<Tensor> ts) {
        int off = 0;   // flat is 1-D, so its size (an int) bounds every offset
        for (Tensor t : ts) {
            t.copy_(flat.narrow(0, off, (int) t.numel()).view(t.shape()));
            off += (int) t.numel();
        }
    }
}
