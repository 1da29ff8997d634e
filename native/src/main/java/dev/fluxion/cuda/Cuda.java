package dev.fluxion.cuda;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;

import static org.bytedeco.cuda.global.cudart.cuGetErrorName;
import static org.bytedeco.cuda.global.cudart.cuGetErrorString;

/** Error checking and small helpers shared by the CUDA classes. Only touched after the presets loaded. */
final class Cuda {
    private Cuda() {}

    static final int SUCCESS = 0;

    /** Throws a {@link CudaException} naming the driver call and the error when result is not CUDA_SUCCESS. */
    static void check(int result, String call) {
        if (result != SUCCESS) throw new CudaException(call + " failed: " + errorName(result), result);
    }

    /** "CUDA_ERROR_OUT_OF_MEMORY (out of memory)". */
    static String errorName(int result) {
        BytePointer name = new BytePointer(), text = new BytePointer();   // filled with pointers to static strings
        String n = cuGetErrorName(result, name) == SUCCESS && !name.isNull() ? name.getString() : "CUresult " + result;
        String t = cuGetErrorString(result, text) == SUCCESS && !text.isNull() ? text.getString() : "";
        return t.isEmpty() ? n : n + " (" + t + ")";
    }

    /** A JavaCPP pointer at a raw device (or host) address, for library calls that take void*. */
    static Pointer at(long address) {
        return new Pointer() {
            { this.address = address; }
        };
    }
}
