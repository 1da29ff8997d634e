package dev.fluxion.cuda;

import dev.fluxion.parallel.nccl.CudaTensors;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Tensor;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.javacpp.Pointer;

/**
 * The bridge the NCCL process group (module fluxion-parallel) needs: a CUDA tensor's device address and its
 * device's stream, so that collectives are enqueued behind the kernels that produced their tensors and before
 * those that consume them, with no host synchronisation. Found through {@link java.util.ServiceLoader}
 * ({@code dev.fluxion.parallel.nccl.Nccl.cudaTensors()}); fluxion-parallel is an optional dependency, so this
 * class is only loaded where that module is on the class path.
 */
public final class CudaTensorsService implements CudaTensors {
    /** For ServiceLoader. */
    public CudaTensorsService() {}

    @Override public Pointer devicePointer(Tensor t) {
        if (!t.isContiguous()) throw new IllegalArgumentException("CudaTensors.devicePointer: the tensor of shape "
                + java.util.Arrays.toString(t.shape()) + " is not contiguous (NCCL reads a flat buffer)");
        return Cuda.at(CudaElementwise.address(t));
    }

    @Override public CUstream_st stream(Device device) { return CudaBackend.of(device).cudaDevice().stream; }
}
