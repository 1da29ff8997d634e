package dev.fluxion.tensor.cpu;

/**
 * Copies a transposed float32 view ([batch,] R, C with strides [.., 1, >= R]) into contiguous memory tile
 * by tile: bulk-read T source runs, transpose the tile in a small array, bulk-write T output rows. The
 * element-wise gather this replaces walks memory with a stride of R floats and is ~10x slower.
 */
final class Transpose {
    private Transpose() {}

    private static final int T = 64;

    /**
     * True for a view whose two innermost (collapsed) dims are column-major and whose other dim, if any, is
     * outer, when both storages are single buffers (so every index below fits an int).
     */
    static boolean applies(Strided in, Strided out) {
        int r = in.shape.length;
        if (r != 2 && r != 3 || !in.storage.isSingleBuffer() || !out.storage.isSingleBuffer()) return false;
        long rs = in.strides[r - 2], cs = in.strides[r - 1];
        return rs == 1 && cs >= in.shape[r - 2] && in.numel >= T * T;
    }

    static void copy(Strided in, Strided out) {
        int rank = in.shape.length;
        int batch = rank == 3 ? (int) in.shape[0] : 1, bs = rank == 3 ? (int) in.strides[0] : 0;
        int rows = (int) in.shape[rank - 2], cols = (int) in.shape[rank - 1], cs = (int) in.strides[rank - 1];
        java.nio.FloatBuffer src = in.storage.floats("transpose copy"), dst = out.storage.floats("transpose copy");
        int tilesR = (rows + T - 1) / T, tilesC = (cols + T - 1) / T;
        Parallel.forRange(batch * tilesR, 1, (lo, hi) -> {
            float[] tile = new float[T * T], row = new float[T];
            for (int job = (int) lo; job < hi; job++) {
                int b = job / tilesR, r0 = (job % tilesR) * T, tr = Math.min(T, rows - r0);
                int srcBase = (int) in.offset + b * bs, dstBase = (int) out.offset + b * rows * cols;
                for (int c0 = 0; c0 < cols; c0 += T) {
                    int tc = Math.min(T, cols - c0);
                    for (int c = 0; c < tc; c++) src.get(srcBase + (c0 + c) * cs + r0, tile, c * T, tr);   // source run = column
                    for (int r = 0; r < tr; r++) {
                        for (int c = 0; c < tc; c++) row[c] = tile[c * T + r];
                        dst.put(dstBase + (r0 + r) * cols + c0, row, 0, tc);
                    }
                }
            }
        });
    }
}
