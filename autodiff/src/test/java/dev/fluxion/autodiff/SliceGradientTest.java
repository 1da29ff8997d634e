package dev.fluxion.autodiff;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The engine writes the gradients of several slices of one intermediate into one buffer (SliceRule.addInto) and
 * adds further contributions in place. Each case is checked against the same function written without slicing
 * an intermediate: the slices taken of a leaf (the rule's own full-tensor path) or the gradient by hand.
 */
class SliceGradientTest {
    private static final Generator G = new Generator(11);

    private static float[] gradOf(Tensor leaf) { return leaf.grad().toFloatArray(); }

    /** q, k, v split out of one projection, each used differently, plus a direct use of the projection itself. */
    @Test void splitOfAnIntermediateMatchesSlicingTheLeaf() {
        Tensor x = Tensor.randn(G, 4, 9);
        Tensor w = Tensor.randn(G, 9, 9);
        Tensor a = x.copy().requiresGrad(true), b = x.copy().requiresGrad(true);
        // through an intermediate (the engine's shared buffer)
        Tensor h = a.mul(1f).matmul(w);                                      // mul: h's producer is an entry, not a leaf
        List<Tensor> parts = h.split(3, 1);
        Tensor loss1 = parts.get(0).tanh().sum().add(parts.get(1).mul(parts.get(2)).sum()).add(h.pow(2).mean());
        loss1.backward();
        // the same function, each piece computed from the leaf by its own matmul (no slice of an intermediate)
        Tensor q = b.matmul(w.narrow(1, 0, 3)), k = b.matmul(w.narrow(1, 3, 3)), v = b.matmul(w.narrow(1, 6, 3));
        Tensor loss2 = q.tanh().sum().add(k.mul(v).sum()).add(b.matmul(w).pow(2).mean());
        loss2.backward();
        assertClose(gradOf(b), gradOf(a), 1e-5f, "split of an intermediate");
    }

    /** Overlapping slices and a step: regions written more than once must add, not overwrite. */
    @Test void overlappingAndSteppedSlicesAdd() {
        Tensor x = Tensor.randn(G, 10).requiresGrad(true);
        Tensor h = x.mul(2f);
        Tensor loss = h.narrow(0, 0, 6).mul(Tensor.arange(6).to(DType.FLOAT32)).sum()
                .add(h.narrow(0, 3, 6).sum()).add(h.slice(0, 1, 10, 3).mul(5f).sum());
        loss.backward();
        float[] expected = new float[10];
        for (int i = 0; i < 6; i++) expected[i] += 2f * i;
        for (int i = 3; i < 9; i++) expected[i] += 2f;
        for (int i = 1; i < 10; i += 3) expected[i] += 10f;
        assertArrayEquals(expected, gradOf(x), 1e-6f);
    }

    /** Gradient of one slice only: the rest of the buffer stays zero. */
    @Test void oneSliceLeavesZerosElsewhere() {
        Tensor x = Tensor.randn(G, 2, 6).requiresGrad(true);
        x.exp().chunk(3, 1).get(1).sum().backward();
        float[] xs = x.detach().toFloatArray(), g = gradOf(x);
        for (int r = 0; r < 2; r++) for (int c = 0; c < 6; c++) {
            float want = c == 2 || c == 3 ? (float) Math.exp(xs[r * 6 + c]) : 0f;
            if (Math.abs(g[r * 6 + c] - want) > 1e-5f * Math.max(1, Math.abs(want)))
                throw new AssertionError("at (" + r + ", " + c + "): " + g[r * 6 + c] + ", expected " + want);
        }
    }

    /** Two backward passes over a retained graph give the same gradient each time (no buffer reused across passes). */
    @Test void retainedGraphTwiceDoublesTheGradient() {
        Tensor x = Tensor.randn(G, 3, 4).requiresGrad(true);
        List<Tensor> parts = x.mul(3f).split(2, 1);
        Tensor loss = parts.get(0).sum().add(parts.get(1).pow(2).sum());
        loss.backward(null, true);
        float[] once = gradOf(x).clone();
        loss.backward();
        float[] twice = gradOf(x);
        for (int i = 0; i < once.length; i++) once[i] *= 2;
        assertArrayEquals(once, twice, 1e-5f);
    }

    /** With createGraph the slices' gradient stays differentiable: d/dx of sum((d loss/dx)^2) by hand. */
    @Test void secondOrderThroughSlices() {
        Tensor x = Tensor.randn(G, 6).requiresGrad(true);
        List<Tensor> parts = x.mul(1f).split(3, 0);
        Tensor loss = parts.get(0).pow(3).sum().add(parts.get(1).pow(2).sum());          // dl/dx = 3x^2 | 2x
        Tensor gx = Autodiff.grad(new Tensor[] {loss}, new Tensor[] {x}, null, true, true)[0];
        gx.pow(2).sum().backward();                                                     // d/dx: 36 x^3 | 8x
        float[] xs = x.detach().toFloatArray(), g = gradOf(x), want = new float[6];
        for (int i = 0; i < 3; i++) want[i] = 36 * xs[i] * xs[i] * xs[i];
        for (int i = 3; i < 6; i++) want[i] = 8 * xs[i];
        assertClose(want, g, 1e-4f, "second order");
    }

    private static void assertClose(float[] want, float[] got, float tol, String what) {
        for (int i = 0; i < want.length; i++)
            if (Math.abs(want[i] - got[i]) > tol * Math.max(1, Math.abs(want[i])))
                throw new AssertionError(what + " at " + i + ": " + got[i] + ", expected " + want[i]);
    }
}
