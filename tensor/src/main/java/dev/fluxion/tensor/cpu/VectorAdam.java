package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.AdamHyper;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/** The Vector API body of {@link CpuAdam}'s loop (loaded only when {@link Simd#ENABLED}); each lane does what its scalar tail does. */
final class VectorAdam {
    private VectorAdam() {}

    private static final VectorSpecies<Float> S = VectorKernels.S;

    /** Steps elements [0, bound) of one chunk in place (xa: max of v, or null); returns bound. */
    static int step(float[] pa, float[] ga, float[] ma, float[] va, float[] xa, int len, AdamHyper h,
                    boolean l2, boolean decoupled, float negStep, float bc2) {
        float b1 = (float) h.beta1(), omb1 = (float) (1 - h.beta1()), b2 = (float) h.beta2(), omb2 = (float) (1 - h.beta2());
        float eps = (float) h.eps(), wd = (float) h.l2WeightDecay(), decay = (float) h.decoupledDecay();
        int i = 0;
        for (int bound = S.loopBound(len); i < bound; i += S.length()) {
            FloatVector pv = FloatVector.fromArray(S, pa, i), gv = FloatVector.fromArray(S, ga, i);
            if (l2) gv = gv.add(pv.mul(wd));
            FloatVector base = decoupled ? pv.mul(decay) : pv;
            FloatVector mv = FloatVector.fromArray(S, ma, i).mul(b1).add(gv.mul(omb1));
            FloatVector vv = FloatVector.fromArray(S, va, i).mul(b2).add(gv.mul(omb2).mul(gv));
            FloatVector sel = vv;
            if (xa != null) { sel = FloatVector.fromArray(S, xa, i).max(vv); sel.intoArray(xa, i); }
            FloatVector denom = sel.sqrt().div(bc2).add(eps);
            base.add(mv.mul(negStep).div(denom)).intoArray(pa, i);
            mv.intoArray(ma, i);
            vv.intoArray(va, i);
        }
        return i;
    }
}
