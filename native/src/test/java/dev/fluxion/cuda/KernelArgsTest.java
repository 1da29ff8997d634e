package dev.fluxion.cuda;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Argument marshalling needs only JavaCPP's host memory, so it is tested without a GPU. */
class KernelArgsTest {
    @Test void eachSlotPointsAtItsAlignedValue() {
        KernelArgs a = KernelArgs.start().i32(7).i64(1L << 40).f32(1.5f).f64(2.25).iter(Iter.of(new int[] {3}, new long[] {1})).i32(9);
        assertEquals(6, a.count());
        long base = a.values.address();
        ByteBuffer v = a.values.asByteBuffer().order(ByteOrder.nativeOrder());
        long[] expectOffsets = {0, 8, 16, 24, 32, 32 + Iter.BYTES};
        for (int i = 0; i < expectOffsets.length; i++) assertEquals(base + expectOffsets[i], a.valueAddress(i), "slot " + i);
        assertEquals(7, v.getInt(0));
        assertEquals(1L << 40, v.getLong(8));
        assertEquals(1.5f, v.getFloat(16));
        assertEquals(2.25, v.getDouble(24));
        assertEquals(1, v.getInt(32));                      // Iter.rank
        assertEquals(9, v.getInt(32 + Iter.BYTES));
        // the pointer array itself, as cuLaunchKernel reads it
        assertEquals(base + 8, a.slots.get(1).address());
        a.release();
    }

    @Test void startClearsThePreviousLaunch() {
        KernelArgs.start().i32(1).i32(2);
        KernelArgs a = KernelArgs.start().i64(5);
        assertEquals(1, a.count());
        assertEquals(a.values.address(), a.valueAddress(0));
    }
}
