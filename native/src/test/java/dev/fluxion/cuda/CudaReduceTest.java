package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.fluxion.cuda.CudaTesting.FLOATS;
import static dev.fluxion.cuda.CudaTesting.INTS;
import static dev.fluxion.cuda.CudaTesting.assertClose;
import static dev.fluxion.cuda.CudaTesting.input;

/** Reductions and softmax on CUDA against the CPU backend. Sums tolerate the different summation order. */
@Tag("gpu")
class CudaReduceTest {
    static Device gpu;

    @BeforeEach void device() { gpu = CudaTesting.gpu(); }

    private static double sumTol(DType dt, long n) {
        return switch (dt) {
            case FLOAT64 -> 1e-11;
            case FLOAT32 -> 1e-5 * Math.max(1, Math.sqrt(n) / 8);
            case FLOAT16 -> 4e-3;
            case BFLOAT16 -> 3e-2;
            default -> 0;
        };
    }

    @Test void sumMaxMinOverDimsEveryDtype() {
        Generator g = new Generator(11);
        int[][] shapes = {{37, 53}, {4, 5, 6}, {8192, 64}, {3, 1, 2000}};
        int[][][] dimSets = {{{0}, {1}, {0, 1}, {}}, {{0, 2}, {1}, {2}, {}}, {{0}, {1}}, {{2}, {0, 2}}};
        for (DType dt : FLOATS)
            for (int s = 0; s < shapes.length; s++)
                for (int[] dims : dimSets[s])
                    for (boolean keep : new boolean[] {false, true}) {
                        Tensor x = input(g, dt, shapes[s]);
                        Tensor xg = x.to(gpu);
                        String what = dt + " " + java.util.Arrays.toString(shapes[s]) + " dims " + java.util.Arrays.toString(dims) + " keep " + keep;
                        double tol = sumTol(dt, x.numel());
                        assertClose(x.sum(dims, keep), xg.sum(dims, keep), tol, tol, "sum " + what);
                        assertClose(x.max(dims, keep), xg.max(dims, keep), 0, 0, "max " + what);
                        assertClose(x.min(dims, keep), xg.min(dims, keep), 0, 0, "min " + what);
                    }
        for (DType dt : INTS) {
            Tensor x = input(g, dt, 33, 17);
            assertClose(x.sum(), x.to(gpu).sum(), "sum " + dt);
            assertClose(x.sum(0, false), x.to(gpu).sum(0, false), "sum dim 0 " + dt);
            assertClose(x.max(1, true), x.to(gpu).max(1, true), "max " + dt);
            assertClose(x.min(new int[] {0, 1}, false), x.to(gpu).min(new int[] {0, 1}, false), "min " + dt);
        }
        Tensor b = input(g, DType.BOOL, 9, 10);
        assertClose(b.sum(1, false), b.to(gpu).sum(1, false), "sum bool");
    }

    @Test void longReductionsSplitAcrossBlocks() {
        Generator g = new Generator(12);
        for (DType dt : FLOATS) {
            Tensor x = input(g, dt, 2_000_003);
            double tol = sumTol(dt, x.numel()) * 10;
            assertClose(x.sum(), x.to(gpu).sum(), tol, tol, "sum of 2M " + dt);
            assertClose(x.max(), x.to(gpu).max(), 0, 0, "max of 2M " + dt);
            assertClose(x.argmin(), x.to(gpu).argmin(), "argmin of 2M " + dt);
        }
        Tensor wide = input(g, DType.FLOAT32, 3, 700_000);
        assertClose(wide.sum(1, false), wide.to(gpu).sum(1, false), 1e-4, 1e-3, "3 long rows");
        Tensor tall = input(g, DType.FLOAT32, 700_000, 3);
        assertClose(tall.sum(0, false), tall.to(gpu).sum(0, false), 1e-4, 1e-3, "3 long columns");
    }

    @Test void argmaxArgminFirstOccurrenceAndNan() {
        Tensor ties = Tensor.of(new float[] {1, 3, 3, 0, -2, -2, 3, 1, 0, 0, 0, 0}, 3, 4);
        for (int dim = 0; dim < 2; dim++) {
            assertClose(ties.argmax(dim, false), ties.to(gpu).argmax(dim, false), "argmax ties dim " + dim);
            assertClose(ties.argmin(dim, true), ties.to(gpu).argmin(dim, true), "argmin ties dim " + dim);
        }
        Tensor nan = Tensor.of(new float[] {1, Float.NaN, 5, Float.NaN, 2, 7}, 2, 3);
        assertClose(nan.argmax(1, false), nan.to(gpu).argmax(1, false), "argmax NaN");
        assertClose(nan.max(1, false), nan.to(gpu).max(1, false), 0, 0, "max NaN");
        assertClose(nan.min(0, false), nan.to(gpu).min(0, false), 0, 0, "min NaN");
        Generator g = new Generator(13);
        for (DType dt : new DType[] {DType.FLOAT16, DType.INT32, DType.UINT8, DType.FLOAT64}) {
            Tensor x = input(g, dt, 6, 7, 8);
            for (int dim = 0; dim < 3; dim++) {
                assertClose(x.argmax(dim, false), x.to(gpu).argmax(dim, false), "argmax " + dt + " dim " + dim);
                assertClose(x.argmin(dim, true), x.to(gpu).argmin(dim, true), "argmin " + dt + " dim " + dim);
            }
            assertClose(x.argmax(), x.to(gpu).argmax(), "argmax flat " + dt);
        }
    }

    @Test void reduceStridedViews() {
        Generator g = new Generator(14);
        Tensor x = input(g, DType.FLOAT32, 20, 30, 4);
        Tensor v = x.permute(2, 0, 1).slice(2, 1, 29, 2);
        Tensor vg = x.to(gpu).permute(2, 0, 1).slice(2, 1, 29, 2);
        assertClose(v.sum(new int[] {1}, false), vg.sum(new int[] {1}, false), 1e-5, 1e-5, "sum of a permuted slice");
        assertClose(v.max(new int[] {0, 2}, true), vg.max(new int[] {0, 2}, true), 0, 0, "max of a permuted slice");
        assertClose(x.sum(1, false).expand(7, 20, 4).sum(0, false), x.to(gpu).sum(1, false).expand(7, 20, 4).sum(0, false), 1e-5, 1e-4, "sum of a broadcast");
    }

    @Test void softmaxAndLogSoftmax() {
        Generator g = new Generator(15);
        for (DType dt : FLOATS)
            for (int[] shape : new int[][] {{33, 7}, {4, 50257}, {3, 5, 6}})
                for (int dim : new int[] {-1, 0}) {
                    Tensor x = input(g, dt, shape).mul(3);
                    double tol = Math.max(CudaTesting.rtol(dt), 1e-6) * (shape[shape.length - 1] > 1000 ? 4 : 1);
                    String what = dt + " " + java.util.Arrays.toString(shape) + " dim " + dim;
                    assertClose(x.softmax(dim), x.to(gpu).softmax(dim), tol, tol, "softmax " + what);
                    assertClose(x.logSoftmax(dim), x.to(gpu).logSoftmax(dim), tol, tol * 10, "logSoftmax " + what);
                }
        float ninf = Float.NEGATIVE_INFINITY;
        Tensor edge = Tensor.of(new float[] {ninf, ninf, ninf, 0, ninf, 1, 1000, 1000, -1000}, 3, 3);
        assertClose(edge.softmax(1), edge.to(gpu).softmax(1), 1e-6, 1e-6, "softmax with -inf rows");
        assertClose(edge.logSoftmax(1), edge.to(gpu).logSoftmax(1), 1e-6, 1e-6, "logSoftmax with -inf rows");
    }
}
