package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Storage;

import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/** Off-heap storage for CPU tensors, taken from and returned to {@link CpuMemory}. */
public final class CpuStorage extends Storage {
    private final CpuMemory.Handle memory;   // returns the buffer exactly once, by close() or once this storage is unreachable
    private ByteBuffer bytes;                 // null while released
    private FloatBuffer floats;               // non-null for FLOAT32 while resident
    private DoubleBuffer doubles;             // non-null for FLOAT64 while resident
    private volatile boolean closed;

    public CpuStorage(DType dtype, int numel) {
        super(dtype, numel);
        ByteBuffer b = CpuMemory.acquire((long) numel * dtype.byteSize());
        this.memory = new CpuMemory.Handle(this, b);
        use(b);
    }

    private void use(ByteBuffer b) {
        bytes = b;
        floats = b != null && dtype() == DType.FLOAT32 ? b.asFloatBuffer() : null;
        doubles = b != null && dtype() == DType.FLOAT64 ? b.asDoubleBuffer() : null;
    }

    @Override public Device device() { return Device.CPU; }

    @Override public boolean isClosed() { return closed; }

    @Override public void close() {
        closed = true;
        use(null);
        memory.dispose();
    }

    @Override public void releaseMemory() {
        checkNotClosed();
        if (bytes == null) return;
        use(null);
        memory.swap(null);
    }

    @Override public void materialize() {
        checkNotClosed();
        if (bytes != null) return;
        ByteBuffer b = CpuMemory.acquire(nbytes());
        memory.swap(b);
        use(b);
    }

    @Override public boolean isResident() { return bytes != null; }

    private void checkNotClosed() {
        if (closed) throw new IllegalStateException("tensor storage (" + dtype() + ", " + numel() + " elements) was used after close()");
    }

    /** Refuses a closed or released storage; kernels call it once per op (through {@link Strided}) before element access. */
    void checkOpen() {
        checkNotClosed();
        if (bytes == null)
            throw new IllegalStateException("tensor storage (" + dtype() + ", " + numel() + " elements) has released its memory "
                    + "(Storage.releaseMemory(), as FSDP does with gathered parameters); call materialize() and fill it before use");
    }

    /** The raw bytes, native order; the address JNI calls (OpenBLAS) receive. */
    ByteBuffer bytes() { checkOpen(); return bytes; }

    FloatBuffer floats() { checkOpen(); return floats; }

    DoubleBuffer doubles() { checkOpen(); return doubles; }

    @Override public java.util.Optional<ByteBuffer> hostBuffer() {
        return java.util.Optional.of(bytes().duplicate().clear().limit((int) nbytes()).slice().order(java.nio.ByteOrder.nativeOrder()));
    }

    @Override public void readBytes(int elementOffset, ByteBuffer dst) {
        checkOpen();
        int n = dst.remaining();
        dst.put(bytes.duplicate().position(elementOffset * dtype().byteSize()).limit(elementOffset * dtype().byteSize() + n));
    }

    @Override public void writeBytes(int elementOffset, ByteBuffer src) {
        checkOpen();
        bytes.duplicate().position(elementOffset * dtype().byteSize()).put(src);
    }

    // ---- element access; every dtype reads as float and double, integers also as long ----

    float getFloat(int i) {
        ByteBuffer b = bytes;
        return switch (dtype()) {
            case FLOAT32 -> b.getFloat(i << 2);
            case FLOAT64 -> (float) b.getDouble(i << 3);
            case FLOAT16 -> Half.fp16ToFloat(b.getShort(i << 1));
            case BFLOAT16 -> Half.bf16ToFloat(b.getShort(i << 1));
            case INT64 -> b.getLong(i << 3);
            case INT32 -> b.getInt(i << 2);
            case INT8 -> b.get(i);
            case UINT8, BOOL -> b.get(i) & 0xff;
        };
    }

    double getDouble(int i) {
        ByteBuffer b = bytes;
        return switch (dtype()) {
            case FLOAT64 -> b.getDouble(i << 3);
            case INT64 -> b.getLong(i << 3);
            case INT32 -> b.getInt(i << 2);
            default -> getFloat(i);
        };
    }

    long getLong(int i) {
        ByteBuffer b = bytes;
        return switch (dtype()) {
            case INT64 -> b.getLong(i << 3);
            case INT32 -> b.getInt(i << 2);
            case INT8 -> b.get(i);
            case UINT8, BOOL -> b.get(i) & 0xff;
            default -> (long) getDouble(i);
        };
    }

    void setFloat(int i, float v) {
        ByteBuffer b = bytes;
        switch (dtype()) {
            case FLOAT32 -> b.putFloat(i << 2, v);
            case FLOAT16 -> b.putShort(i << 1, Half.floatToFp16(v));
            case BFLOAT16 -> b.putShort(i << 1, Half.floatToBf16(v));
            default -> setDouble(i, v);
        }
    }

    /** Stores with PyTorch's conversion rules: floats truncate toward zero into integers, bool is v != 0. */
    void setDouble(int i, double v) {
        ByteBuffer b = bytes;
        switch (dtype()) {
            case FLOAT64 -> b.putDouble(i << 3, v);
            case FLOAT32 -> b.putFloat(i << 2, (float) v);
            case FLOAT16 -> b.putShort(i << 1, Half.floatToFp16((float) v));
            case BFLOAT16 -> b.putShort(i << 1, Half.floatToBf16((float) v));
            case INT64 -> b.putLong(i << 3, (long) v);
            case INT32 -> b.putInt(i << 2, (int) (long) v);
            case INT8, UINT8 -> b.put(i, (byte) (long) v);
            case BOOL -> b.put(i, (byte) (v != 0 ? 1 : 0));
        }
    }

    void setLong(int i, long v) {
        ByteBuffer b = bytes;
        switch (dtype()) {
            case INT64 -> b.putLong(i << 3, v);
            case INT32 -> b.putInt(i << 2, (int) v);
            case INT8, UINT8 -> b.put(i, (byte) v);
            case BOOL -> b.put(i, (byte) (v != 0 ? 1 : 0));
            default -> setDouble(i, v);
        }
    }

    /** Bulk read of n consecutive elements as floats. */
    void readFloats(int i, float[] dst, int off, int n) {
        if (floats != null) floats.get(i, dst, off, n);
        else if (dtype() == DType.BOOL || dtype() == DType.UINT8) for (int k = 0; k < n; k++) dst[off + k] = bytes.get(i + k) & 0xff;
        else for (int k = 0; k < n; k++) dst[off + k] = getFloat(i + k);
    }

    void writeFloats(int i, float[] src, int off, int n) {
        if (floats != null) floats.put(i, src, off, n);
        else for (int k = 0; k < n; k++) setFloat(i + k, src[off + k]);
    }

    void readDoubles(int i, double[] dst, int off, int n) {
        if (doubles != null) doubles.get(i, dst, off, n);
        else for (int k = 0; k < n; k++) dst[off + k] = getDouble(i + k);
    }

    void writeDoubles(int i, double[] src, int off, int n) {
        if (doubles != null) doubles.put(i, src, off, n);
        else for (int k = 0; k < n; k++) setDouble(i + k, src[off + k]);
    }
}
