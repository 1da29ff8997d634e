package dev.fluxion.nn.io;

import dev.fluxion.tensor.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.zip.Checksum;

/**
 * Moves tensor elements between storage and files as raw little-endian bytes, one bounded chunk at a time,
 * so that saving or loading a tensor never holds a second full copy of it on the heap.
 */
final class TensorBytes {
    /** Chunk size: a multiple of every element size. */
    static final int CHUNK_BYTES = 4 << 20;

    private TensorBytes() {}

    /** Receives consecutive chunks; each buffer is valid only during the call. */
    interface Sink {
        void accept(ByteBuffer chunk) throws IOException;
    }

    /** A chunk buffer sized for tensors of at most maxBytes. */
    static ByteBuffer chunk(long maxBytes) {
        return ByteBuffer.allocateDirect((int) Math.min(CHUNK_BYTES, Math.max(8, (maxBytes + 7) / 8 * 8)));
    }

    /** Passes t's elements in row-major order to sink (a non-contiguous t goes through a temporary contiguous copy). */
    static void forEachChunk(Tensor t, ByteBuffer chunk, Sink sink) throws IOException {
        checkLittleEndian();
        if (t.numel() == 0) return;                    // (Tensor.isContiguous() is false for some empty shapes, e.g. [2, 0, 3])
        if (!t.isContiguous()) {
            try (Tensor d = t.detach(); Tensor c = d.contiguous()) {
                forEachChunk(c, chunk, sink);
            }
            return;
        }
        int item = t.dtype().byteSize();
        int perChunk = chunk.capacity() / item;
        for (long done = 0, numel = t.numel(); done < numel; done += perChunk) {
            int n = (int) Math.min(perChunk, numel - done);
            chunk.clear().limit(n * item);
            t.storage().readBytes(t.offset() + done, chunk);
            chunk.flip();
            sink.accept(chunk);
        }
    }

    /** Fills the fresh contiguous tensor t from the file bytes at position, also feeding them to checksum (may be null). */
    static void fill(Tensor t, FileChannel ch, long position, ByteBuffer chunk, Checksum checksum, Path file) throws IOException {
        checkLittleEndian();
        int item = t.dtype().byteSize();
        int perChunk = chunk.capacity() / item;
        for (long done = 0, numel = t.numel(); done < numel; done += perChunk) {
            int n = (int) Math.min(perChunk, numel - done);
            chunk.clear().limit(n * item);
            readFully(file, ch, chunk, position + done * item);
            chunk.flip();
            if (checksum != null) checksum.update(chunk.duplicate());
            t.storage().writeBytes(t.offset() + done, chunk);
        }
    }

    static void readFully(Path file, FileChannel ch, ByteBuffer dst, long position) throws IOException {
        while (dst.hasRemaining()) {
            int r = ch.read(dst, position);
            if (r < 0) throw new SafetensorsException(file, "file ended at byte " + position + " while " + dst.remaining() + " more bytes were expected (truncated while being read?)");
            position += r;
        }
    }

    static void writeFully(FileChannel ch, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) ch.write(src);
    }

    private static void checkLittleEndian() {
        // Storage holds native-order bytes and safetensors data is little-endian; Fluxion ships x86-64 natives only.
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN)
            throw new UnsupportedOperationException("safetensors: big-endian platforms are not supported (file data is little-endian, tensors are native order)");
    }
}
