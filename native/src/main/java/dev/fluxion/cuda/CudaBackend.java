package dev.fluxion.cuda;

import dev.fluxion.tensor.Backend;
import dev.fluxion.tensor.BinaryOp;
import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.ReduceOp;
import dev.fluxion.tensor.Storage;
import dev.fluxion.tensor.Tensor;
import dev.fluxion.tensor.UnaryOp;

/**
 * The backend of one NVIDIA GPU. Every op enqueues kernels on the device's stream and returns at once;
 * nothing waits for the GPU except reading values back to the host. Memory comes from the device's
 * stream-ordered pool ({@link #memoryStats()}); GEMMs go through cuBLAS. Found through
 * {@link CudaBackendProvider}; programs reach it as {@code Device.cuda(i)} or {@code Device.best()}.
 */
public final class CudaBackend implements Backend {
    private static volatile boolean allowTf32 = Boolean.getBoolean("fluxion.cuda.tf32");

    private final CudaDevice d;

    CudaBackend(CudaDevice d) { this.d = d; }

    /** The backend of a CUDA device, or an error naming what is available. */
    public static CudaBackend of(Device device) {
        if (dev.fluxion.tensor.Backends.of(device) instanceof CudaBackend c) return c;
        throw new IllegalArgumentException("cuda: " + device + " is not a CUDA device");
    }

    /** Lets float32 matmuls use TF32 tensor cores (10-bit mantissa inputs); off by default, as in PyTorch. */
    public static void setAllowTf32(boolean allow) { allowTf32 = allow; }

    public static boolean allowTf32() { return allowTf32; }

    /**
     * Lets convolution and average pooling use cuDNN where it is installed (on by default, as PyTorch's
     * torch.backends.cudnn.enabled; -Dfluxion.cuda.cudnn=false starts with it off). Off, they run as im2col + cuBLAS.
     */
    public static void setCudnnEnabled(boolean enabled) { Cudnn.setEnabled(enabled); }

    /** Whether convolution and average pooling may use cuDNN (see {@link #setCudnnEnabled}). */
    public static boolean cudnnEnabled() { return Cudnn.enabled(); }

    CudaDevice cudaDevice() { return d; }

    @Override public Device device() { return d.device; }

    public String name() { return d.name; }

    /** Compute capability, e.g. "9.0". */
    public String computeCapability() { return d.major + "." + d.minor; }

    public MemoryStats memoryStats() { return d.allocator.stats(); }

    public void resetPeak() { d.allocator.resetPeak(); }

    /** Waits for the stream, then gives the pool's cached blocks back to the driver. */
    public void emptyCache() { d.allocator.emptyCache(); }

    /**
     * How many times the host has waited for this GPU since it was opened: each read of values back to the host
     * ({@code item()}, {@code toFloatArray()}, {@code to(Device.CPU)}) and each {@link #synchronize()}. A training
     * step that keeps everything on the GPU adds none; compare two readings around the code under test.
     */
    public long hostSyncCount() { return d.hostSyncs(); }

    /** Waits until every op enqueued on this device has run; throws errors kernels recorded. */
    public void synchronize() { d.synchronize(); }

    @Override public Storage allocate(DType dtype, long numel) { return new CudaStorage(d, dtype, numel); }

    @Override public Tensor unary(UnaryOp op, Tensor x) { return CudaElementwise.unary(d, op, x); }

    @Override public Tensor binary(BinaryOp op, Tensor a, Tensor b) { return CudaElementwise.binary(d, op, a, b); }

    @Override public Tensor where(Tensor cond, Tensor a, Tensor b) { return CudaElementwise.where(d, cond, a, b); }

    @Override public Tensor reduce(ReduceOp op, Tensor x, int[] dims, boolean keepdim) { return CudaReduce.reduce(d, op, x, dims, keepdim); }

    @Override public Tensor softmax(Tensor x, int dim, boolean log) { return CudaReduce.softmax(d, x, dim, log); }

    @Override public Tensor matmul(Tensor a, Tensor b) { return CudaMatmul.matmul(d, a, b); }

    @Override public void copy(Tensor src, Tensor dst) { CudaElementwise.copy(d, src, dst); }

    @Override public void fill(Tensor dst, double value) { CudaElementwise.fill(d, dst, value); }

    @Override public Tensor indexSelect(Tensor x, int dim, Tensor index) { return CudaIndexing.indexSelect(d, x, dim, index); }

    @Override public Tensor gather(Tensor x, int dim, Tensor index) { return CudaIndexing.gather(d, x, dim, index); }

    @Override public Tensor scatterAdd(Tensor x, int dim, Tensor index, Tensor src) { return CudaIndexing.scatterAdd(d, x, dim, index, src); }

    /** Uniform or normal values made by Philox 4x32-10 on the GPU ({@link CudaRandom}); the tensor API's rand/randn/dropout on CUDA tensors. */
    @Override public Tensor random(Draw draw, long key, DType dtype, int[] shape) { return CudaRandom.random(d, draw, key, dtype, shape); }

    /** int64 integers on [low, high) made by Philox on the GPU (fx_randint): Tensor.randint on a CUDA device. */
    @Override public Tensor randint(long key, long low, long high, int[] shape) { return CudaRandom.randint(d, key, low, high, shape); }

    @Override public Tensor arange(double start, double step, int n, DType dtype) { return CudaRandom.arange(d, start, step, n, dtype); }

    @Override public String toString() { return "CudaBackend[" + d.device + ", " + d.name + ", sm_" + d.major + d.minor + "]"; }
}
