package dev.fluxion.parallel.tcp;

import java.io.IOException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;

/** The connection to one peer of a group: non-blocking, registered with the group's selector on first use. */
final class Link {
    final int peer;           // group rank of the other end
    final SocketChannel channel;
    private SelectionKey key;

    Link(int peer, SocketChannel channel) {
        this.peer = peer;
        this.channel = channel;
    }

    SelectionKey key(Selector selector) throws IOException {
        if (key == null) key = channel.register(selector, 0, this);
        return key;
    }

    void close() {
        try { channel.close(); } catch (IOException ignored) { }
    }
}
