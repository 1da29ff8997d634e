package dev.fluxion.cuda;

import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.nccl.Nccl;
import dev.fluxion.parallel.nccl.NcclProcessGroup;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The NCCL process group on CUDA tensors through {@link CudaTensorsService}: the collective runs on the tensors'
 * stream, after the kernel that produced its input and before the one that reads its output, with no host wait.
 */
@Tag("gpu")
class NcclOnGpuTest {
    @Test void serviceIsFoundAndCollectivesRunOnTheTensorsStream() throws Exception {
        assertTrue(Nccl.cudaTensors().isPresent(), "the native module registers the CudaTensors service");
        assertTrue(Nccl.cudaTensors().get() instanceof CudaTensorsService);
        Device gpu = CudaTesting.gpu();
        Nccl.unavailableReason().ifPresent(r -> assumeTrue(false, r));
        byte[] token = "gpu".getBytes();
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token);
             var store = TcpStore.connect("127.0.0.1", server.port(), token, Duration.ofSeconds(30), "rank 0")) {
            NcclProcessGroup pg = NcclProcessGroup.create(store, 0, 1, gpu, Duration.ofSeconds(30), "native-test");
            long syncs = CudaBackend.of(gpu).hostSyncCount();
            Tensor x = Tensor.arange(1024).to(DType.FLOAT32).to(gpu).mul(2.0);      // a kernel writes x ...
            var w = pg.allReduce(x, ReduceOp.SUM);                                   // ... NCCL reads it on the same stream
            Tensor y = x.add(1.0);                                                   // ... and this kernel reads NCCL's result
            assertEquals(syncs, CudaBackend.of(gpu).hostSyncCount(), "no host wait between the kernels and the collective");
            w.waitFor();
            float[] got = y.toFloatArray();
            for (int i = 0; i < got.length; i++) assertEquals(2f * i + 1, got[i], 0, "element " + i);
            Tensor b = Tensor.of(new float[] {1, 2, 3}, 3).to(DType.BFLOAT16).to(gpu);
            pg.broadcast(b, 0).waitFor();
            assertArrayEquals(new float[] {1, 2, 3}, b.toFloatArray());
            pg.close();
        }
    }
}
