package dev.fluxion.parallel.tcp;

import java.nio.ByteBuffer;

/**
 * The 24 bytes that open every transfer on a connection: which operation, its sequence number, dtype,
 * reduction and size. The receiver compares them with what it expects, so ranks that call different
 * collectives, or the same one with different sizes, fail at once with a message that says so instead of
 * exchanging garbage.
 */
record Header(byte op, byte dtype, byte reduce, long seq, long bytes) {
    static final int SIZE = 24;
    private static final int MAGIC = 0x46585031;   // "FXP1"

    static final byte ALL_REDUCE = 1, BROADCAST = 2, ALL_GATHER = 3, REDUCE_SCATTER = 4, P2P = 5, BARRIER = 6;

    ByteBuffer encode() {
        return ByteBuffer.allocate(SIZE).putInt(MAGIC).put(op).put(dtype).put(reduce).put((byte) 0).putLong(seq).putLong(bytes).flip();
    }

    /** Decodes a received header, or returns null when the magic is wrong (not a Fluxion peer, or a desynchronised stream). */
    static Header decode(ByteBuffer b) {
        b.flip();
        if (b.getInt() != MAGIC) return null;
        byte op = b.get(), dtype = b.get(), reduce = b.get();
        b.get();
        return new Header(op, dtype, reduce, b.getLong(), b.getLong());
    }

    static String opName(byte op) {
        return switch (op) {
            case ALL_REDUCE -> "allReduce"; case BROADCAST -> "broadcast"; case ALL_GATHER -> "allGather";
            case REDUCE_SCATTER -> "reduceScatter"; case P2P -> "send"; case BARRIER -> "barrier"; default -> "op " + op;
        };
    }

    /** "allReduce #17 (4000 bytes of float32, sum)". */
    String describe() {
        String dt = dtype >= 0 && dtype < dev.fluxion.tensor.DType.values().length ? dev.fluxion.tensor.DType.values()[dtype].toString() : "?";
        String red = reduce >= 0 && reduce < dev.fluxion.parallel.ReduceOp.values().length ? ", " + dev.fluxion.parallel.ReduceOp.values()[reduce] : "";
        return opName(op) + " #" + seq + " (" + bytes + " bytes of " + dt + red + ")";
    }
}
