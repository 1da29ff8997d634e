package dev.fluxion.cuda;

/** A failed CUDA driver, runtime or library call; the message names the call, the device and the error. */
public class CudaException extends RuntimeException {
    private final int code;

    public CudaException(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The CUresult / cudaError_t / cublasStatus_t value, or 0 when the error did not come from a call. */
    public int code() { return code; }
}
