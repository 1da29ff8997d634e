package dev.fluxion.tensor;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The tiled transpose path of copy (float32 column-major views) against element-by-element reads. */
class TransposeCopyTest {
    @Test
    void transposedCopiesMatchElementwise() {
        var g = new Generator(5);
        for (int[] s : new int[][] {{64, 64}, {130, 67}, {3, 70, 129}, {257, 65}}) {
            Tensor base = Tensor.randn(g, s);
            Tensor t = base.transpose(-2, -1);                        // column-major in its last two dims
            Tensor c = t.contiguous();
            float[] flat = base.toFloatArray();
            int rows = s[s.length - 1], cols = s[s.length - 2], batch = s.length == 3 ? s[0] : 1;
            float[] got = c.toFloatArray();
            for (int b = 0; b < batch; b++)
                for (int r = 0; r < rows; r++)
                    for (int col = 0; col < cols; col++)
                        assertEquals(flat[b * rows * cols + col * rows + r], got[b * rows * cols + r * cols + col], 0f,
                                java.util.Arrays.toString(s) + " at " + b + "," + r + "," + col);
        }
        Tensor offsetView = Tensor.randn(g, 100, 90).slice(0, 5, 95).slice(1, 3, 83).t();  // offset and row stride > rows
        float[] copied = offsetView.copy().toFloatArray();
        for (int i = 0; i < 80; i += 7)
            for (int j = 0; j < 90; j += 11)
                assertEquals(offsetView.get(i, j), copied[i * 90 + j], 0.0, "element " + i + "," + j);
    }
}
