package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.Col2ImOp;
import dev.fluxion.tensor.FusedOp;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Im2ColOp;
import dev.fluxion.tensor.MaxPool2dOp;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.Window2d;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The float32 window kernels against the composed defaults of their ops (written with general tensor ops):
 * im2col and max-pool exactly (copies and comparisons), col2im to float rounding (the composed default
 * sums in index_add's order), over strides, paddings (also asymmetric), dilations and the stride-1 "same
 * width" shortcut of im2col, and max-pool's tie and NaN rules.
 */
class CpuWindowsTest {
    /** Windows, each with the input (N, C, H, W) it runs on. */
    private static final List<Object[]> CASES = List.of(
            new Object[] {Window2d.of(3, 3, 1, 1, 1, 1, 1, 1), new int[] {2, 3, 7, 6}},       // same width: the shifted copy
            new Object[] {Window2d.of(3, 3, 1, 1, 0, 0, 1, 1), new int[] {2, 2, 6, 7}},
            new Object[] {Window2d.of(2, 2, 2, 2, 0, 0, 1, 1), new int[] {3, 2, 8, 8}},
            new Object[] {Window2d.of(3, 3, 2, 2, 1, 1, 1, 1), new int[] {2, 2, 7, 9}},
            new Object[] {Window2d.of(3, 2, 1, 1, 1, 0, 1, 1), new int[] {1, 3, 5, 6}},
            new Object[] {Window2d.of(3, 3, 1, 1, 2, 2, 2, 2), new int[] {2, 2, 6, 5}},       // dilated, same width
            new Object[] {new Window2d(4, 4, 1, 1, 1, 2, 1, 2, 1, 1), new int[] {2, 1, 5, 5}}, // asymmetric "same"
            new Object[] {Window2d.of(5, 5, 1, 1, 2, 2, 1, 1), new int[] {1, 2, 3, 3}},       // kernel wider than the input
            new Object[] {Window2d.of(1, 1, 1, 1, 0, 0, 1, 1), new int[] {2, 2, 4, 4}});

    @Test
    void im2colMatchesTheComposedDefault() {
        Generator g = new Generator(3);
        for (Object[] c : CASES) {
            Window2d win = (Window2d) c[0];
            Tensor x = Tensor.randn(g, (int[]) c[1]);
            Im2ColOp op = new Im2ColOp(win);
            assertArrayEquals(op.compose(new Tensor[] {x}).output().toFloatArray(), CpuWindows.im2col(win, x).output().toFloatArray(), 0f, "im2col " + win);
            Tensor xt = x.permute(0, 1, 3, 2).contiguous().permute(0, 1, 3, 2);             // a non-contiguous input
            assertArrayEquals(op.compose(new Tensor[] {x}).output().toFloatArray(), CpuWindows.im2col(win, xt).output().toFloatArray(), 0f, "im2col (strided) " + win);
        }
    }

    @Test
    void col2imMatchesTheComposedDefault() {
        Generator g = new Generator(4);
        for (Object[] c : CASES) {
            Window2d win = (Window2d) c[0];
            int[] s = (int[]) c[1];
            Col2ImOp op = new Col2ImOp(win, s[0], s[1], s[2], s[3]);
            Tensor cols = Tensor.randn(g, s[1] * win.kh() * win.kw(), s[0] * win.outH(s[2]) * win.outW(s[3]));
            assertArrayEquals(op.compose(new Tensor[] {cols}).output().toFloatArray(), CpuWindows.col2im(op, cols).output().toFloatArray(), 1e-5f, "col2im " + win);
        }
    }

    @Test
    void maxPoolMatchesTheComposedDefaultWithTiesAndNaN() {
        Generator g = new Generator(5);
        for (Object[] c : CASES) {
            Window2d win = (Window2d) c[0];
            if (Math.max(win.padTop(), win.padBottom()) > win.kh() / 2 || Math.max(win.padLeft(), win.padRight()) > win.kw() / 2) continue;   // not a valid pool
            int[] s = (int[]) c[1];
            float[] v = Tensor.randint(g, 0, 4, s).toFloatArray();                         // few values: many ties
            v[v.length / 3] = Float.NaN;
            Tensor x = Tensor.of(v, s);
            MaxPool2dOp op = new MaxPool2dOp(win);
            FusedOp.Result want = op.compose(new Tensor[] {x}), got = CpuWindows.maxPool(win, x);
            assertArrayEquals(want.output().toFloatArray(), got.output().toFloatArray(), 0f, "maxPool values " + win);
            assertArrayEquals(want.state()[0].toLongArray(), got.state()[0].toLongArray(), "maxPool argmax " + win);

            Tensor gy = Tensor.randn(g, got.output().shape());
            Tensor idx = got.state()[0].reshape(s[0], s[1], -1);
            Tensor dxWant = Tensor.zeros(s[0], s[1], s[2] * s[3]).scatterAdd(2, idx, gy.reshape(s[0], s[1], -1)).reshape(s);
            assertArrayEquals(dxWant.toFloatArray(), CpuWindows.maxPoolBackward(s, got.state()[0], gy).toFloatArray(), 0f, "maxPool backward " + win);
            assertEquals(x.dim(), got.state()[0].dim());
        }
    }

    /** An argmax outside its plane (indices from elsewhere) is refused, naming the index, not written to another plane. */
    @Test
    void maxPoolBackwardRefusesAnIndexOutsideThePlane() {
        int[] s = {2, 3, 4, 4};                                                            // planes of 16, outputs of 4
        for (long bad : new long[] {16, -1}) {
            long[] idx = new long[2 * 3 * 4];
            idx[7] = bad;
            Tensor gy = Tensor.ones(2, 3, 2, 2);
            var e = assertThrows(RuntimeException.class,
                    () -> CpuWindows.maxPoolBackward(s, Tensor.of(idx, 2, 3, 2, 2), gy));
            String message = String.valueOf(e.getMessage());
            assertTrue(message.contains(Long.toString(bad)), message);
        }
    }
}
