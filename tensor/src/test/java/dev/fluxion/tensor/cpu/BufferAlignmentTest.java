package dev.fluxion.tensor.cpu;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Tensor memory starts on a cache line, pooled or exact, fresh or reused, and has exactly the size asked for. */
class BufferAlignmentTest {
    @Test void buffersStartOnA64ByteBoundary() {
        for (int bytes : new int[] {4, 100, 512, 4000, 65536, 1 << 20, (4 << 20) + 12}) {
            ByteBuffer pooled = CpuMemory.acquire(bytes), exact = CpuMemory.acquireExact(bytes);
            assertEquals(0, pooled.alignmentOffset(0, CpuMemory.ALIGNMENT), "pooled buffer for " + bytes + " bytes");
            assertEquals(0, exact.alignmentOffset(0, CpuMemory.ALIGNMENT), "exact buffer for " + bytes + " bytes");
            assertEquals(CpuMemory.sizeClass(bytes), pooled.capacity(), "a pooled buffer holds its size class");
            assertEquals(bytes, exact.capacity(), "an exact buffer holds what was asked");
            assertEquals(java.nio.ByteOrder.nativeOrder(), exact.order());
            CpuMemory.release(pooled);
            ByteBuffer again = CpuMemory.acquire(bytes);           // from the cache this time
            assertEquals(0, again.alignmentOffset(0, CpuMemory.ALIGNMENT), "reused buffer for " + bytes + " bytes");
            CpuMemory.release(again);
            CpuMemory.releaseExact(exact);
        }
    }
}
