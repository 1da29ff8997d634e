package dev.fluxion.parallel.nccl;

import dev.fluxion.parallel.DistributedException;
import dev.fluxion.parallel.ReduceOp;
import dev.fluxion.tensor.DType;
import org.bytedeco.cuda.nccl.ncclComm;
import org.bytedeco.cuda.nccl.ncclConfig_t;
import org.bytedeco.cuda.nccl.ncclUniqueId;
import org.bytedeco.javacpp.Loader;

import static org.bytedeco.cuda.global.cudart.cudaGetErrorString;
import static org.bytedeco.cuda.global.cudart.cudaSuccess;
import static org.bytedeco.cuda.global.nccl.*;

/** Small helpers over the NCCL preset: dtype and op codes, the config initializer, unique ids, result checks. */
final class NcclCalls {
    private NcclCalls() {}

    /** NCCL_CONFIG_UNDEF_INT: a field NCCL should fill with its default. */
    private static final int UNDEF = Integer.MIN_VALUE;

    static int dtype(DType dt) {
        return switch (dt) {
            case FLOAT32 -> ncclFloat32; case FLOAT64 -> ncclFloat64; case FLOAT16 -> ncclFloat16; case BFLOAT16 -> ncclBfloat16;
            case INT64 -> ncclInt64; case INT32 -> ncclInt32; case INT8 -> ncclInt8; case UINT8, BOOL -> ncclUint8;
        };
    }

    static int op(ReduceOp op, DType dt) {
        if (dt == DType.BOOL || dt == DType.UINT8 || dt == DType.INT8)
            throw new IllegalArgumentException("NCCL " + op + " reduction of " + dt + " tensors is not supported by Fluxion (float32, float64, float16, bfloat16, int64, int32 are)");
        return switch (op) { case SUM -> ncclSum; case AVG -> ncclAvg; case MAX -> ncclMax; case MIN -> ncclMin; };
    }

    /** NCCL_CONFIG_INITIALIZER with blocking = 0, so that init and collectives can be abandoned and the communicator aborted. */
    static ncclConfig_t nonBlockingConfig() {
        ncclConfig_t c = new ncclConfig_t();
        c.size(Loader.sizeof(ncclConfig_t.class)).magic(0xcafebeef).version(NCCL_VERSION_CODE);
        c.blocking(0).cgaClusterSize(UNDEF).minCTAs(UNDEF).maxCTAs(UNDEF).netName(null).splitShare(UNDEF).trafficClass(UNDEF).commName(null)
                .collnetEnable(UNDEF).CTAPolicy(UNDEF).shrinkShare(UNDEF).nvlsCTAs(UNDEF).nChannelsPerNetPeer(UNDEF).nvlinkCentricSched(UNDEF)
                .graphUsageMode(UNDEF).numRmaCtx(UNDEF);
        return c;
    }

    static byte[] bytes(ncclUniqueId id) {
        byte[] b = new byte[NCCL_UNIQUE_ID_BYTES];
        for (int i = 0; i < b.length; i++) b[i] = id.internal(i);
        return b;
    }

    static ncclUniqueId uniqueId(byte[] b) {
        if (b.length != NCCL_UNIQUE_ID_BYTES) throw new DistributedException("NCCL unique id of " + b.length + " bytes, expected " + NCCL_UNIQUE_ID_BYTES);
        ncclUniqueId id = new ncclUniqueId();
        for (int i = 0; i < b.length; i++) id.internal(i, b[i]);
        return id;
    }

    /** Throws unless rc is ncclSuccess or (for non-blocking communicators) ncclInProgress. */
    static int check(int rc, String what) {
        if (rc != ncclSuccess && rc != ncclInProgress)
            throw new DistributedException(what + " failed: " + ncclGetErrorString(rc).getString() + " (NCCL result " + rc + ")");
        return rc;
    }

    static void checkCuda(int rc, String what) {
        if (rc != cudaSuccess) throw new DistributedException(what + " failed: " + cudaGetErrorString(rc).getString() + " (CUDA error " + rc + ")");
    }

    /** The communicator's state: ncclSuccess, ncclInProgress, or an error. */
    static int state(ncclComm comm) {
        int[] s = new int[1];
        int rc = ncclCommGetAsyncError(comm, s);
        return rc != ncclSuccess ? rc : s[0];
    }
}
