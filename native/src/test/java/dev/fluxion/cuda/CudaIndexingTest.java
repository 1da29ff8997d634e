package dev.fluxion.cuda;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Generator;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import static dev.fluxion.cuda.CudaTesting.assertClose;
import static dev.fluxion.cuda.CudaTesting.input;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** indexSelect, gather, scatterAdd and embedding on CUDA against the CPU backend; bad indices are reported. */
@Tag("gpu")
class CudaIndexingTest {
    static Device gpu;

    @BeforeEach void device() { gpu = CudaTesting.gpu(); }

    @Test void indexSelectEveryDtypeAndDim() {
        Generator g = new Generator(31);
        for (DType dt : DType.values())
            for (DType it : new DType[] {DType.INT64, DType.INT32}) {
                Tensor x = input(g, dt, 6, 5, 4);
                Tensor idx = Tensor.of(new long[] {0, 5, 3, 2, 2}, 5).to(it);
                assertClose(x.indexSelect(0, idx), x.to(gpu).indexSelect(0, idx.to(gpu)), "indexSelect dim 0 " + dt + " " + it);
                Tensor idx2 = Tensor.of(new long[] {3, 0, 1}, 3).to(it);
                assertClose(x.indexSelect(2, idx2), x.to(gpu).indexSelect(2, idx2.to(gpu)), "indexSelect dim 2 " + dt + " " + it);
                assertClose(x.transpose(0, 1).indexSelect(1, idx), x.to(gpu).transpose(0, 1).indexSelect(1, idx.to(gpu)), "indexSelect strided " + dt);
            }
        Tensor w = input(g, DType.FLOAT16, 50, 8), ids = Tensor.randint(g, 0, 50, 4, 7);
        assertClose(Tensor.embedding(w, ids), Tensor.embedding(w.to(gpu), ids.to(gpu)), "embedding");
    }

    @Test void gatherAndScatterAdd() {
        Generator g = new Generator(32);
        for (DType dt : DType.values()) {
            Tensor x = input(g, dt, 5, 6);
            for (int dim = 0; dim < 2; dim++) {
                Tensor idx = Tensor.randint(g, 0, x.size(dim), 4, 3);
                assertClose(x.gather(dim, idx), x.to(gpu).gather(dim, idx.to(gpu)), "gather " + dt + " dim " + dim);
                Tensor src = input(g, dt, 4, 3);
                double tol = dt.isFloatingPoint() ? 2 * CudaTesting.rtol(dt) : 0;       // float atomics add in any order
                assertClose(x.scatterAdd(dim, idx, src), x.to(gpu).scatterAdd(dim, idx.to(gpu), src.to(gpu)), tol, tol, "scatterAdd " + dt + " dim " + dim);
                Tensor idx32 = idx.to(DType.INT32);
                assertClose(x.t().gather(1 - dim, idx32.t()), x.to(gpu).t().gather(1 - dim, idx32.to(gpu).t()), "gather strided int32 " + dt);
            }
        }
        // many collisions: every source element lands on one of 3 rows
        Tensor acc = Tensor.zeros(3, 64), idx = Tensor.randint(g, 0, 3, 4096, 64), src = Tensor.ones(4096, 64);
        assertClose(acc.scatterAdd(0, idx, src), acc.to(gpu).scatterAdd(0, idx.to(gpu), src.to(gpu)), 0, 0, "scatterAdd collisions");
    }

    @Test void outOfRangeIndexIsReportedAtTheNextRead() {
        Tensor x = Tensor.ones(4, 3).to(gpu);
        Tensor bad = Tensor.of(new long[] {1, 7}, 2).to(gpu);
        Tensor y = x.indexSelect(0, bad);                   // enqueued; no synchronisation here
        var e = assertThrows(IndexOutOfBoundsException.class, y::toFloatArray);
        assertTrue(e.getMessage().contains("indexSelect") && e.getMessage().contains("7") && e.getMessage().contains("4"), e.getMessage());
        assertEquals(12.0, x.sum().item());                 // the error was cleared and the device still works
        Tensor g = x.gather(1, Tensor.of(new long[] {0, -9, 1, 2}, 4, 1).to(gpu));
        assertThrows(IndexOutOfBoundsException.class, g::toFloatArray);
        // a negative index is an error, as on the CPU and in PyTorch (it used to wrap to the last row)
        Tensor last = x.indexSelect(0, Tensor.of(new long[] {-1}, 1).to(gpu));
        var neg = assertThrows(IndexOutOfBoundsException.class, last::toFloatArray);
        assertTrue(neg.getMessage().contains("-1"), neg.getMessage());
        Tensor row = Tensor.embedding(x, Tensor.of(new long[] {-1}, 1).to(gpu));
        assertThrows(IndexOutOfBoundsException.class, row::toFloatArray);
    }
}
