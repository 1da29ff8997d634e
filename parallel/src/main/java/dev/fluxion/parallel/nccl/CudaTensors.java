package dev.fluxion.parallel.nccl;

import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

/**
 * What the NCCL backend needs from the CUDA backend (module fluxion-native): a CUDA tensor's device memory
 * and the stream its producers run on. The native module provides it as a {@link java.util.ServiceLoader}
 * service; until it does, {@link NcclProcessGroup} refuses tensors with a message that says so. NCCL
 * enqueues every collective on {@link #stream}, so it runs after the kernels that produced its tensors and
 * before the ones that consume them, without a host synchronisation.
 */
public interface CudaTensors {
    /** A pointer to t's first element in device memory; t is contiguous and on a CUDA device. */
    Pointer devicePointer(Tensor t);

    /** The stream the CUDA backend computes on for device (the one collectives must be ordered with). */
    CUstream_st stream(Device device);
}
