package dev.fluxion.parallel.nccl;

import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.parallel.store.TcpStore;
import dev.fluxion.parallel.store.TcpStoreServer;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.Pointer;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.time.Duration;

import static org.bytedeco.cuda.global.cudart.*;
import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The NCCL backend on a real GPU, through raw device buffers (CUDA tensors need the native module). Runs
 * with {@code mvn -Pgpu test}; skips with the reason where NCCL or a GPU is missing. Not yet run on a GPU.
 */
@Tag("gpu")
class NcclProcessGroupTest {
    @Test void allReduceOnOneRankAndTimeoutsOnAMissingPeer() throws Exception {
        Nccl.unavailableReason().ifPresent(r -> assumeTrue(false, r));
        byte[] token = "gpu".getBytes();
        try (var server = TcpStoreServer.start(new InetSocketAddress("127.0.0.1", 0), token);
             var store = TcpStore.connect("127.0.0.1", server.port(), token, Duration.ofSeconds(30), "rank 0")) {
            var pg = NcclProcessGroup.create(store, 0, 1, Device.cuda(0), null, Duration.ofSeconds(30), "test");
            float[] host = {1, 2, 3, 4};
            Pointer buf = new Pointer();
            assertEquals(cudaSuccess, cudaMalloc(buf, 16));
            assertEquals(cudaSuccess, cudaMemcpy(buf, new FloatPointer(host), 16, cudaMemcpyHostToDevice));
            pg.allReduce(buf, 4, DType.FLOAT32, ReduceOp.SUM, "allReduce #0").waitFor();
            FloatPointer back = new FloatPointer(4);
            assertEquals(cudaSuccess, cudaMemcpy(back, buf, 16, cudaMemcpyDeviceToHost));
            float[] got = new float[4];
            back.get(got);
            assertArrayEquals(host, got, "a world of one reduces to itself");
            pg.barrier().waitFor();
            pg.close();

            // the same namespace again: a fresh instance with its own unique id (not the closed one's, still in the store)
            var again = NcclProcessGroup.create(store, 0, 1, Device.cuda(0), null, Duration.ofSeconds(30), "test");
            again.allReduce(buf, 4, DType.FLOAT32, ReduceOp.SUM, "allReduce #0 of the second instance").waitFor();
            again.abort();
            var late = again.allReduce(buf, 4, DType.FLOAT32, ReduceOp.SUM, "allReduce after abort");
            assertThrows(DistributedException.class, late::waitFor, "no NCCL call runs on an aborted communicator");
            cudaFree(buf);

            // a world of two whose second rank never comes: init gives up within the timeout, naming it
            long t0 = System.nanoTime();
            var e = assertThrows(DistributedException.class,
                    () -> NcclProcessGroup.create(store, 0, 2, Device.cuda(0), null, Duration.ofSeconds(3), "missing"));
            assertTrue(e.getMessage().contains("never joined: [rank 1]"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < 10_000_000_000L);
        }
    }
}
