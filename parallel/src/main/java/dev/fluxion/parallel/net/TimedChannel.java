package dev.fluxion.parallel.net;

import java.io.EOFException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.InetSocketAddress;
import java.net.NoRouteToHostException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

/**
 * A non-blocking socket channel with blocking-style reads and writes that give up at a deadline (plain Java
 * sockets have no write timeout). Used by the store and for connection handshakes; bulk transfers use their
 * own selector loop.
 */
public final class TimedChannel implements AutoCloseable {
    private final SocketChannel channel;
    private final Selector selector;
    private final SelectionKey key;
    private final String peer;

    /** Wraps a connected channel; peer describes the other end in messages ("the store at 127.0.0.1:29500"). */
    public TimedChannel(SocketChannel channel, String peer) throws IOException {
        this.channel = channel;
        this.peer = peer;
        channel.configureBlocking(false);
        channel.setOption(java.net.StandardSocketOptions.TCP_NODELAY, true);
        this.selector = Selector.open();
        this.key = channel.register(selector, 0);
    }

    /**
     * Connects, retrying until the deadline when the connection is refused (the server may not be up yet) or
     * the network is unreachable (a link between hosts may be down for a moment, as when a job restarts), or the
     * connection is reset before it is made (the listener went away; its successor may be starting).
     */
    public static TimedChannel connect(InetSocketAddress address, Deadline deadline, String peer) throws IOException {
        IOException last = null;
        long backoff = 20;
        while (!deadline.passed()) {
            SocketChannel ch = SocketChannel.open();
            try {
                ch.configureBlocking(false);
                if (!ch.connect(address)) {
                    try (Selector s = Selector.open()) {
                        ch.register(s, SelectionKey.OP_CONNECT);
                        while (!ch.finishConnect()) {
                            long left = deadline.millisLeft();
                            if (left == 0) throw new SocketTimeoutException("connecting to " + peer + " timed out");
                            s.select(left);
                        }
                    }
                }
                return new TimedChannel(ch, peer);
            } catch (SocketException e) {
                ch.close();
                if (!retriable(e)) throw e;
                last = e;
                try { Thread.sleep(Math.min(backoff, Math.max(1, deadline.millisLeft()))); } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted while connecting to " + peer, ie);
                }
                backoff = Math.min(backoff * 2, 500);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        }
        throw new SocketTimeoutException("could not connect to " + peer + " before the deadline"
                + (last == null ? "" : " (last attempt: " + last.getMessage() + ")"));
    }

    private static boolean retriable(SocketException e) {
        if (e instanceof ConnectException || e instanceof NoRouteToHostException) return true;
        String m = String.valueOf(e.getMessage()).toLowerCase(java.util.Locale.ROOT);
        // reset while connecting: the listener died with this connection in its queue (a restarting rank 0)
        return m.contains("unreachable") || m.contains("no route") || m.contains("connection reset");
    }

    public SocketChannel channel() { return channel; }

    public String peer() { return peer; }

    /** Fills b completely, or throws EOFException (peer closed) or SocketTimeoutException (deadline). */
    public void readFully(ByteBuffer b, Deadline deadline) throws IOException {
        while (b.hasRemaining()) {
            int n = channel.read(b);
            if (n < 0) throw new EOFException(peer + " closed the connection");
            if (n == 0) await(SelectionKey.OP_READ, deadline, "reading from");
        }
    }

    /** Writes b completely, or throws SocketTimeoutException when the peer does not drain it by the deadline. */
    public void writeFully(ByteBuffer b, Deadline deadline) throws IOException {
        while (b.hasRemaining()) {
            int n = channel.write(b);
            if (n == 0) await(SelectionKey.OP_WRITE, deadline, "writing to");
        }
    }

    private void await(int op, Deadline deadline, String what) throws IOException {
        long left = deadline.millisLeft();
        if (left == 0) throw new SocketTimeoutException(what + " " + peer + " timed out");
        key.interestOps(op);
        selector.select(left);
        selector.selectedKeys().clear();
        key.interestOps(0);
    }

    /**
     * Stops using this wrapper's selector so that the channel can join another one; the channel stays open
     * and non-blocking.
     */
    public SocketChannel detach() throws IOException {
        key.cancel();
        selector.close();
        return channel;
    }

    @Override public void close() {
        try { selector.close(); } catch (IOException ignored) { }
        try { channel.close(); } catch (IOException ignored) { }
    }
}
