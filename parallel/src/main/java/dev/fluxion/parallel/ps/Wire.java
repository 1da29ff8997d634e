package dev.fluxion.parallel.ps;

import dev.fluxion.parallel.net.Deadline;
import dev.fluxion.parallel.net.TimedChannel;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * The parameter server's wire format, plain binary and big-endian: every message is a frame
 * [u32 length][u8 code][body]. A connection opens with HELLO; until the server has admitted it, a frame may
 * not exceed {@link #MAX_HELLO} bytes, and after that not a shard's worth of data plus a small header.
 *
 * <pre>
 * HELLO  magic u32, version u16, token (u32 n, n bytes), worker i32, server i32, fingerprint i64
 *                                        -> OK startClock i64, shardElements i64 | DENIED message
 * PUSH   clock i64, segments u32, then per segment: offset u32, n u32, n float32
 *                                        -> OK | ERROR message     (elements not covered are zero)
 * PULL   clock i64                       -> OK includedClock i64, n u32, n float32 | ERROR message
 * BYE                                    (no reply; the server forgets the worker at once)
 * </pre>
 */
final class Wire {
    private Wire() {}

    static final int MAGIC = 0x46585053;   // "FXPS"
    static final short VERSION = 1;
    static final int MAX_HELLO = 2048;
    static final int MAX_TOKEN = 1024;

    static final byte HELLO = 1, PUSH = 2, PULL = 3, BYE = 4;
    static final byte OK = 0, DENIED = 3, ERROR = 4;

    /** The largest frame a shard of n elements needs: every element in its own segment would be 12 bytes each. */
    static long maxFrame(long shardElements) { return 64 + 12 * shardElements; }

    /** Reads one frame whose length must be in [1, limit]. */
    static ByteBuffer read(TimedChannel ch, long limit, Deadline deadline) throws IOException {
        ByteBuffer len = ByteBuffer.allocate(4);
        ch.readFully(len, deadline);
        int n = len.flip().getInt();
        if (n < 1 || n > limit) throw new IOException("parameter server protocol: frame of " + n + " bytes from " + ch.peer() + " (limit " + limit + ")");
        ByteBuffer body = ByteBuffer.allocate(n);
        ch.readFully(body, deadline);
        return body.flip();
    }

    /** A frame with room for body bytes after the code; fill it and {@link ByteBuffer#flip()}. */
    static ByteBuffer frame(byte code, int body) {
        ByteBuffer b = ByteBuffer.allocate(4 + 1 + body);
        return b.putInt(1 + body).put(code);
    }

    static ByteBuffer message(byte code, String text) {
        byte[] a = text.getBytes(StandardCharsets.UTF_8);
        return frame(code, 4 + a.length).putInt(a.length).put(a).flip();
    }

    static String text(ByteBuffer b) {
        return new String(bytes(b, 1 << 16, "message"), StandardCharsets.UTF_8);
    }

    static byte[] bytes(ByteBuffer b, int limit, String what) {
        if (b.remaining() < 4) throw new IllegalArgumentException("parameter server protocol: truncated " + what);
        int n = b.getInt();
        if (n < 0 || n > limit || n > b.remaining())
            throw new IllegalArgumentException("parameter server protocol: " + what + " of " + n + " bytes (limit " + limit + ", " + b.remaining() + " left)");
        byte[] a = new byte[n];
        b.get(a);
        return a;
    }

    /** Reads n floats into dst[at..at+n), checking that the frame holds them. */
    static void floats(ByteBuffer b, float[] dst, int at, int n) {
        if ((long) n * 4 > b.remaining()) throw new IllegalArgumentException("parameter server protocol: " + n + " floats announced, " + b.remaining() + " bytes left");
        b.asFloatBuffer().get(dst, at, n);
        b.position(b.position() + 4 * n);
    }
}
