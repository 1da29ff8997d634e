package dev.fluxion.tensor.cpu;

import dev.fluxion.tensor.DType;
import dev.fluxion.tensor.Device;
import dev.fluxion.tensor.Storage;

import java.nio.ByteBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;

/**
 * Off-heap storage for CPU tensors. Up to {@link CpuMemory#MAX_POOLED} bytes it is one buffer from the
 * pool of {@link CpuMemory}; larger storages are allocated exactly and not cached: one buffer up to
 * 2 GiB, above that (a ByteBuffer holds at most 2^31-1 bytes) chunks of {@code 1 << CHUNK_SHIFT} bytes.
 * Elements are addressed by long index; element i lives in chunk {@code i >>> elemShift} (a shift and a
 * mask, no division), and no element straddles two chunks. Bulk reads and writes split at chunk
 * boundaries; the fast paths that need one buffer (GEMM, Adam, layer norm) ask for it with
 * {@link #floats(String)} and fail with the op's name on a chunked storage. The buffers go back exactly
 * once through a {@link CpuMemory.Handle}: by close(), or once this storage is unreachable.
 */
public final class CpuStorage extends Storage {
    /** Bytes per chunk of a storage too large for one buffer. */
    static final int CHUNK_SHIFT = 30;
    /** The most bytes kept in one buffer (a multiple of 8, so an element of any dtype fits whole). */
    static final long MAX_SINGLE = (Integer.MAX_VALUE - 8) & ~7L;

    private final boolean pooled;          // one pooled buffer, else exact buffers the pool does not cache
    private final int chunkCount;          // 1 unless the storage is over MAX_SINGLE bytes
    private final int elemShift;           // element i is in chunks[i >>> elemShift] ...
    private final long elemMask;           // ... at element (i & elemMask) of that chunk
    private final long chunkElems;         // elements per chunk (Long.MAX_VALUE for one buffer)
    private final CpuMemory.Handle memory; // returns the buffers exactly once, by close() or once this storage is unreachable
    private ByteBuffer[] chunks;           // null while released
    private FloatBuffer[] floats;          // per chunk; non-null for FLOAT32 while resident
    private DoubleBuffer[] doubles;        // per chunk; non-null for FLOAT64 while resident
    private volatile boolean closed;

    public CpuStorage(DType dtype, long numel) {
        super(dtype, numel);
        long nbytes = nbytes();
        int log2 = Integer.numberOfTrailingZeros(dtype.byteSize());
        this.pooled = nbytes <= CpuMemory.MAX_POOLED;
        this.chunkCount = nbytes <= MAX_SINGLE ? 1 : (int) ((nbytes + (1L << CHUNK_SHIFT) - 1) >>> CHUNK_SHIFT);
        this.elemShift = chunkCount == 1 ? 63 : CHUNK_SHIFT - log2;    // i >>> 63 == 0 for every index
        this.elemMask = chunkCount == 1 ? Long.MAX_VALUE : (1L << elemShift) - 1;
        this.chunkElems = chunkCount == 1 ? Long.MAX_VALUE : 1L << elemShift;
        ByteBuffer[] b = acquireChunks();
        this.memory = new CpuMemory.Handle(this, b, pooled);
        use(b);
    }

    /** This storage's buffers: one from the pool, one exact, or exact chunks of 1 << CHUNK_SHIFT bytes. */
    private ByteBuffer[] acquireChunks() {
        long nbytes = nbytes();
        if (pooled) return new ByteBuffer[] {CpuMemory.acquire(nbytes)};
        ByteBuffer[] out = new ByteBuffer[chunkCount];
        try {
            for (int c = 0; c < chunkCount; c++)
                out[c] = CpuMemory.acquireExact((int) Math.min(chunkCount == 1 ? nbytes : 1L << CHUNK_SHIFT, nbytes - ((long) c << CHUNK_SHIFT)));
        } catch (OutOfMemoryError e) {
            for (ByteBuffer x : out) if (x != null) CpuMemory.releaseExact(x);
            throw e;
        }
        return out;
    }

    private void use(ByteBuffer[] b) {
        chunks = b;
        floats = b != null && dtype() == DType.FLOAT32 ? new FloatBuffer[b.length] : null;
        doubles = b != null && dtype() == DType.FLOAT64 ? new DoubleBuffer[b.length] : null;
        for (int c = 0; b != null && c < b.length; c++) {
            if (floats != null) floats[c] = b[c].asFloatBuffer();
            if (doubles != null) doubles[c] = b[c].asDoubleBuffer();
        }
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
        if (chunks == null) return;
        use(null);
        memory.swap(null);
    }

    @Override public void materialize() {
        checkNotClosed();
        if (chunks != null) return;
        ByteBuffer[] b = acquireChunks();
        memory.swap(b);
        use(b);
    }

    @Override public boolean isResident() { return chunks != null; }

    private void checkNotClosed() {
        if (closed) throw new IllegalStateException("tensor storage (" + dtype() + ", " + numel() + " elements) was used after close()");
    }

    /** Refuses a closed or released storage; kernels call it once per op (through {@link Strided}) before element access. */
    void checkOpen() {
        checkNotClosed();
        if (chunks == null)
            throw new IllegalStateException("tensor storage (" + dtype() + ", " + numel() + " elements) has released its memory "
                    + "(Storage.releaseMemory(), as FSDP does with gathered parameters); call materialize() and fill it before use");
    }

    /** True when the storage is one buffer (at most 2 GiB), as the single-buffer fast paths need. */
    boolean isSingleBuffer() { return chunkCount == 1; }

    /** True when t, or the contiguous copy a fast path makes of it, lies in one buffer. */
    static boolean fitsOneBuffer(dev.fluxion.tensor.Tensor t) {
        if (t.isContiguous()) return t.storage() instanceof CpuStorage c && c.isSingleBuffer();
        return t.numel() * t.dtype().byteSize() <= MAX_SINGLE;
    }

    private void requireSingle(String op) {
        checkOpen();
        if (chunkCount != 1)
            throw new UnsupportedOperationException(op + ": this CPU path needs the tensor's storage in one buffer (at most "
                    + MAX_SINGLE + " bytes); this storage has " + nbytes() + " bytes in " + chunkCount + " chunks");
    }

    /** The raw bytes of a single-buffer storage, native order; the address JNI calls (OpenBLAS) receive. */
    ByteBuffer bytes(String op) { requireSingle(op); return chunks[0]; }

    /** The whole float32 storage as one buffer, for the fast paths of {@code op}; fails naming op when chunked. */
    FloatBuffer floats(String op) { requireSingle(op); return floats[0]; }

    DoubleBuffer doubles(String op) { requireSingle(op); return doubles[0]; }

    @Override public java.util.Optional<ByteBuffer> hostBuffer() {
        checkOpen();
        if (chunkCount != 1) return java.util.Optional.empty();
        return java.util.Optional.of(chunks[0].duplicate().clear().limit((int) nbytes()).slice().order(java.nio.ByteOrder.nativeOrder()));
    }

    /** Calls piece(chunk, byteInChunk, bufferOffset, byteCount) for bytes [elementOffset * size, + n) split at chunk boundaries. */
    private interface BytePiece { void run(ByteBuffer chunk, int at, int off, int len); }

    private void bytePieces(long elementOffset, int n, BytePiece piece) {
        long pos = elementOffset * dtype().byteSize();
        if (pos < 0 || pos + n > nbytes())
            throw new IndexOutOfBoundsException("storage bytes " + pos + ".." + (pos + n) + " of " + nbytes());
        int shift = chunkCount == 1 ? 62 : CHUNK_SHIFT;
        int off = 0;
        while (off < n) {
            int c = (int) (pos >>> shift);
            int at = (int) (pos - ((long) c << shift));
            int len = (int) Math.min(n - off, (chunkCount == 1 ? MAX_SINGLE : 1L << CHUNK_SHIFT) - at);
            piece.run(chunks[c], at, off, len);
            pos += len;
            off += len;
        }
    }

    @Override public void readBytes(long elementOffset, ByteBuffer dst) {
        checkOpen();
        int p = dst.position();
        bytePieces(elementOffset, dst.remaining(), (chunk, at, off, len) -> dst.put(p + off, chunk, at, len));
        dst.position(p + dst.remaining());
    }

    @Override public void writeBytes(long elementOffset, ByteBuffer src) {
        checkOpen();
        int p = src.position();
        bytePieces(elementOffset, src.remaining(), (chunk, at, off, len) -> chunk.put(at, src, p + off, len));
        src.position(p + src.remaining());
    }

    /** Copies n elements of the same dtype from src at srcIndex to this storage at dstIndex, as bytes. */
    void copyFrom(CpuStorage src, long srcIndex, long dstIndex, long n) {
        int bs = dtype().byteSize();
        for (long done = 0; done < n; ) {
            int len = (int) Math.min(Math.min(n - done, Integer.MAX_VALUE / bs), Math.min(src.room(srcIndex + done), room(dstIndex + done)));
            chunk(dstIndex + done).put(at(dstIndex + done) * bs, src.chunk(srcIndex + done), src.at(srcIndex + done) * bs, len * bs);
            done += len;
        }
    }

    /** Sets the n consecutive elements from index i to v (a contiguous fill is a repeated byte copy). */
    void fill(long i, long n, double v) {
        if (n == 0) return;
        setDouble(i, v);
        int bs = dtype().byteSize();
        byte[] pattern = new byte[4096];                      // a multiple of every element size
        for (int k = 0; k < pattern.length; k += bs) chunk(i).get(at(i) * bs, pattern, k, bs);
        for (long done = 1; done < n; ) {
            long j = i + done;
            int len = (int) Math.min(Math.min(n - done, room(j)), pattern.length / bs);
            chunk(j).put(at(j) * bs, pattern, 0, len * bs);
            done += len;
        }
    }

    // ---- element access by long index; every dtype reads as float and double, integers also as long ----

    private ByteBuffer chunk(long i) { return chunks[(int) (i >>> elemShift)]; }

    private int at(long i) { return (int) (i & elemMask); }

    /** Elements from index i to the end of its chunk. */
    private long room(long i) { return chunkElems - at(i); }

    float getFloat(long i) {
        ByteBuffer b = chunk(i);
        int j = at(i);
        return switch (dtype()) {
            case FLOAT32 -> b.getFloat(j << 2);
            case FLOAT64 -> (float) b.getDouble(j << 3);
            case FLOAT16 -> Half.fp16ToFloat(b.getShort(j << 1));
            case BFLOAT16 -> Half.bf16ToFloat(b.getShort(j << 1));
            case INT64 -> b.getLong(j << 3);
            case INT32 -> b.getInt(j << 2);
            case INT8 -> b.get(j);
            case UINT8, BOOL -> b.get(j) & 0xff;
        };
    }

    double getDouble(long i) {
        ByteBuffer b = chunk(i);
        int j = at(i);
        return switch (dtype()) {
            case FLOAT64 -> b.getDouble(j << 3);
            case INT64 -> b.getLong(j << 3);
            case INT32 -> b.getInt(j << 2);
            default -> getFloat(i);
        };
    }

    long getLong(long i) {
        ByteBuffer b = chunk(i);
        int j = at(i);
        return switch (dtype()) {
            case INT64 -> b.getLong(j << 3);
            case INT32 -> b.getInt(j << 2);
            case INT8 -> b.get(j);
            case UINT8, BOOL -> b.get(j) & 0xff;
            default -> (long) getDouble(i);
        };
    }

    void setFloat(long i, float v) {
        ByteBuffer b = chunk(i);
        int j = at(i);
        switch (dtype()) {
            case FLOAT32 -> b.putFloat(j << 2, v);
            case FLOAT16 -> b.putShort(j << 1, Half.floatToFp16(v));
            case BFLOAT16 -> b.putShort(j << 1, Half.floatToBf16(v));
            default -> setDouble(i, v);
        }
    }

    /** Stores with PyTorch's conversion rules: floats truncate toward zero into integers, bool is v != 0. */
    void setDouble(long i, double v) {
        ByteBuffer b = chunk(i);
        int j = at(i);
        switch (dtype()) {
            case FLOAT64 -> b.putDouble(j << 3, v);
            case FLOAT32 -> b.putFloat(j << 2, (float) v);
            case FLOAT16 -> b.putShort(j << 1, Half.floatToFp16((float) v));
            case BFLOAT16 -> b.putShort(j << 1, Half.floatToBf16((float) v));
            case INT64 -> b.putLong(j << 3, (long) v);
            case INT32 -> b.putInt(j << 2, (int) (long) v);
            case INT8, UINT8 -> b.put(j, (byte) (long) v);
            case BOOL -> b.put(j, (byte) (v != 0 ? 1 : 0));
        }
    }

    void setLong(long i, long v) {
        ByteBuffer b = chunk(i);
        int j = at(i);
        switch (dtype()) {
            case INT64 -> b.putLong(j << 3, v);
            case INT32 -> b.putInt(j << 2, (int) v);
            case INT8, UINT8 -> b.put(j, (byte) v);
            case BOOL -> b.put(j, (byte) (v != 0 ? 1 : 0));
            default -> setDouble(i, v);
        }
    }

    // ---- bulk access to n (an int: a scratch chunk) consecutive elements, split at chunk boundaries ----

    /** Bulk read of n consecutive elements as floats. */
    void readFloats(long i, float[] dst, int off, int n) {
        boolean bytes = dtype() == DType.BOOL || dtype() == DType.UINT8;
        while (n > 0) {
            int len = (int) Math.min(n, room(i)), j = at(i);
            if (floats != null) floats[(int) (i >>> elemShift)].get(j, dst, off, len);
            else if (bytes) readUnsignedBytes(chunk(i), j, dst, off, len);
            else for (int k = 0; k < len; k++) dst[off + k] = getFloat(i + k);
            i += len; off += len; n -= len;
        }
    }

    /** A bulk copy into per-thread bytes, then widened: several times faster than a get per byte. */
    private static void readUnsignedBytes(ByteBuffer b, int at, float[] dst, int off, int n) {
        byte[] tmp = Scratch.get().bytes;
        for (int done = 0; done < n; done += tmp.length) {
            int len = Math.min(tmp.length, n - done);
            b.get(at + done, tmp, 0, len);
            for (int k = 0; k < len; k++) dst[off + done + k] = tmp[k] & 0xff;
        }
    }

    /** The exact sum of n consecutive elements of a one-byte dtype (uint8 and bool unsigned, int8 signed). */
    long sumBytes(long i, long n) {
        boolean signed = dtype() == DType.INT8;
        byte[] tmp = Scratch.get().bytes;
        long total = 0;
        while (n > 0) {
            int len = (int) Math.min(Math.min(n, room(i)), tmp.length);
            chunk(i).get(at(i), tmp, 0, len);
            int acc = 0;                                        // 2048 * 255 fits an int
            if (signed) for (int k = 0; k < len; k++) acc += tmp[k];
            else for (int k = 0; k < len; k++) acc += tmp[k] & 0xff;
            total += acc;
            i += len;
            n -= len;
        }
        return total;
    }

    void writeFloats(long i, float[] src, int off, int n) {
        while (n > 0) {
            int len = (int) Math.min(n, room(i));
            if (floats != null) floats[(int) (i >>> elemShift)].put(at(i), src, off, len);
            else for (int k = 0; k < len; k++) setFloat(i + k, src[off + k]);
            i += len; off += len; n -= len;
        }
    }

    void readDoubles(long i, double[] dst, int off, int n) {
        while (n > 0) {
            int len = (int) Math.min(n, room(i));
            if (doubles != null) doubles[(int) (i >>> elemShift)].get(at(i), dst, off, len);
            else for (int k = 0; k < len; k++) dst[off + k] = getDouble(i + k);
            i += len; off += len; n -= len;
        }
    }

    void writeDoubles(long i, double[] src, int off, int n) {
        while (n > 0) {
            int len = (int) Math.min(n, room(i));
            if (doubles != null) doubles[(int) (i >>> elemShift)].put(at(i), src, off, len);
            else for (int k = 0; k < len; k++) setDouble(i + k, src[off + k]);
            i += len; off += len; n -= len;
        }
    }
}
