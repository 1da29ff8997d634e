package dev.fluxion.parallel.tcp;

import dev.fluxion.parallel.net.Deadline;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntFunction;
import java.util.function.LongSupplier;

/**
 * One operation's transfers, run together by one selector loop on the group's thread: sends ({@link Out})
 * and receives ({@link In}) on any number of links, each opening with a {@link Header}. A send may be gated
 * by a receive ({@code ready}): it only sends bytes the receive has already delivered and processed. That is
 * what pipelines the ring (the chunk received at one step is the chunk sent at the next, forwarded while the
 * rest of it is still arriving) and the broadcast tree (a node forwards to its children as it receives).
 */
final class Exchange {
    /** Called with a range of newly received bytes of a segment (offsets within the segment); returns nothing. */
    interface Processor { void accept(int from, int to); }

    /** A part of a receive: bytes land in target (position 0, limit = length); process sees them as they complete. */
    record Segment(ByteBuffer target, int elementSize, Processor process) {
        static Segment copy(ByteBuffer target) { return new Segment(target, 1, null); }
    }

    private static final int MAX_IO = Integer.getInteger("fluxion.tcp.ioBytes", 1 << 19);   // bytes per read or write call, so reduction interleaves with I/O

    private final List<Out> outs = new ArrayList<>();
    private final List<In> ins = new ArrayList<>();
    private final IntFunction<String> names;

    /** names gives how a peer (group rank) appears in messages, e.g. "rank 3". */
    Exchange(IntFunction<String> names) { this.names = names; }

    /** Sends header then parts, in order; ready (null: everything) bounds the payload bytes sent so far. */
    Out send(Link link, Header header, LongSupplier ready, ByteBuffer... parts) {
        Out o = new Out(link, header, ready, parts);
        outs.add(o);
        return o;
    }

    /** Receives a header equal to expected, then fills the segments in order. */
    In recv(Link link, Header expected, Segment... segments) {
        In i = new In(link, expected, segments);
        ins.add(i);
        return i;
    }

    final class Out {
        final Link link;
        private final ByteBuffer header;
        private final LongSupplier ready;
        private final ByteBuffer[] parts;
        private final long total;
        private long sent;
        private int part;

        private Out(Link link, Header h, LongSupplier ready, ByteBuffer[] parts) {
            this.link = link;
            this.header = h.encode();
            this.ready = ready;
            this.parts = new ByteBuffer[parts.length];
            long t = 0;
            for (int i = 0; i < parts.length; i++) { this.parts[i] = parts[i].duplicate(); t += parts[i].remaining(); }
            this.total = t;
        }

        boolean done() { return !header.hasRemaining() && sent == total; }

        private long allowed() { return ready == null ? total : Math.min(total, ready.getAsLong()); }

        boolean wantsToWrite() { return header.hasRemaining() || sent < allowed(); }

        long write() throws IOException {
            long before = sent;
            int headerBytes = 0;
            if (header.hasRemaining()) {
                headerBytes = link.channel.write(header);
                if (header.hasRemaining()) return headerBytes;
            }
            long allowed = allowed();
            while (sent < allowed) {
                ByteBuffer p = parts[part];
                if (!p.hasRemaining()) { part++; continue; }
                int room = (int) Math.min(Math.min(p.remaining(), allowed - sent), MAX_IO);
                int limit = p.limit();
                p.limit(p.position() + room);
                int n;
                try { n = link.channel.write(p); } finally { p.limit(limit); }
                if (n == 0) break;
                sent += n;
                if (sent - before >= MAX_IO) break;
            }
            return headerBytes + sent - before;
        }

        String progress() { return "sent " + sent + " of " + total + " bytes to " + names.apply(link.peer); }
    }

    final class In {
        final Link link;
        private final Header expected;
        private final ByteBuffer header = ByteBuffer.allocate(Header.SIZE);
        private final Segment[] segments;
        private final long total;
        private long received, processedBefore;   // processedBefore: bytes of the segments already finished
        private int segment, segmentProcessed;

        private In(Link link, Header expected, Segment[] segments) {
            this.link = link;
            this.expected = expected;
            this.segments = new Segment[segments.length];
            for (int i = 0; i < segments.length; i++)   // own positions: the caller's buffers stay as they were
                this.segments[i] = new Segment(segments[i].target().duplicate(), segments[i].elementSize(), segments[i].process());
            long t = 0;
            for (Segment s : segments) t += s.target().remaining();
            this.total = t;
        }

        boolean done() { return !header.hasRemaining() && received == total; }

        /** Payload bytes received and processed, in stream order. */
        long processed() { return processedBefore + segmentProcessed; }

        long read() throws IOException, LinkFailure {
            long before = received;
            int headerBytes = 0;
            if (header.hasRemaining()) {
                headerBytes = link.channel.read(header);
                if (headerBytes < 0) throw closed();
                if (header.hasRemaining()) return headerBytes;
                checkHeader();
            }
            while (segment < segments.length) {
                Segment s = segments[segment];
                ByteBuffer t = s.target();
                if (!t.hasRemaining()) { finishSegment(); continue; }
                int limit = t.limit();
                t.limit(Math.min(limit, t.position() + MAX_IO));
                int n;
                try { n = link.channel.read(t); } finally { t.limit(limit); }
                if (n < 0) throw closed();
                if (n == 0) break;
                received += n;
                int complete = s.process() == null ? t.position() : t.position() - t.position() % s.elementSize();
                if (complete > segmentProcessed) {
                    if (s.process() != null) s.process().accept(segmentProcessed, complete);
                    segmentProcessed = complete;
                }
                if (!t.hasRemaining()) finishSegment();
                if (received - before >= MAX_IO) break;   // back to the loop, so that sends interleave with receives
            }
            return headerBytes + received - before;
        }

        private void finishSegment() {
            processedBefore += segments[segment].target().limit();
            segmentProcessed = 0;
            segment++;
        }

        private void checkHeader() throws LinkFailure {
            Header got = Header.decode(header);
            if (got == null)
                throw new LinkFailure(LinkFailure.Kind.MISMATCH, link.peer, names.apply(link.peer) + " sent bytes that are not a Fluxion header (the streams are out of step)");
            if (!got.equals(expected))
                throw new LinkFailure(LinkFailure.Kind.MISMATCH, link.peer, "this rank runs " + expected.describe() + " but " + names.apply(link.peer)
                        + " sent " + got.describe() + "; every rank must call the same operations in the same order with the same sizes");
        }

        private LinkFailure closed() {
            return new LinkFailure(LinkFailure.Kind.CLOSED, link.peer, names.apply(link.peer) + " closed its connection (after " + received + " of "
                    + total + " bytes from it)");
        }

        String progress() {
            return header.hasRemaining() ? "nothing received from " + names.apply(link.peer)
                    : "received " + received + " of " + total + " bytes from " + names.apply(link.peer);
        }
    }

    private boolean done() {
        for (In i : ins) if (!i.done()) return false;
        for (Out o : outs) if (!o.done()) return false;
        return true;
    }

    /** Runs every transfer to completion, or throws when a peer fails or the deadline passes. */
    void run(Selector selector, Deadline deadline) throws LinkFailure {
        Map<Link, Integer> interest = new IdentityHashMap<>();
        while (!done()) {
            boolean progress = false;
            // sends first: what this rank can send now unblocks its peers before it spends time reducing what arrived
            for (Out o : outs) {
                if (o.done()) continue;
                try { progress |= o.write() > 0; } catch (IOException e) { throw broken(o.link, e); }
            }
            for (In i : ins) {
                if (i.done()) continue;
                try { progress |= i.read() > 0; } catch (IOException e) { throw broken(i.link, e); }
            }
            if (progress) continue;
            if (done()) break;
            interest.clear();
            for (In i : ins) if (!i.done()) interest.merge(i.link, SelectionKey.OP_READ, (a, b) -> a | b);
            for (Out o : outs) if (!o.done() && o.wantsToWrite()) interest.merge(o.link, SelectionKey.OP_WRITE, (a, b) -> a | b);
            try {
                for (Map.Entry<Link, Integer> e : interest.entrySet()) e.getKey().key(selector).interestOps(e.getValue());
                long ms = deadline.millisLeft();
                if (ms == 0) throw timeout();
                selector.select(ms);
                selector.selectedKeys().clear();
                for (Link l : interest.keySet()) l.key(selector).interestOps(0);
            } catch (java.nio.channels.CancelledKeyException | java.nio.channels.ClosedSelectorException e) {
                throw new LinkFailure(LinkFailure.Kind.CLOSED, interest.isEmpty() ? -1 : interest.keySet().iterator().next().peer,
                        "the group was aborted while this operation ran", e);
            } catch (IOException e) {
                throw new LinkFailure(LinkFailure.Kind.CLOSED, -1, "selector failed: " + e, e);
            }
        }
    }

    private LinkFailure broken(Link link, IOException e) {
        return new LinkFailure(LinkFailure.Kind.CLOSED, link.peer, "the connection to " + names.apply(link.peer) + " failed (" + e.getMessage()
                + "): it has died or aborted", e);
    }

    /** Names the peer this rank waits for: the first unfinished receive, else the first unfinished send. */
    private LinkFailure timeout() {
        List<String> state = new ArrayList<>();
        int culprit = -1;
        for (In i : ins) if (!i.done()) { state.add(i.progress()); if (culprit < 0) culprit = i.link.peer; }
        for (Out o : outs) if (!o.done()) { state.add(o.progress()); if (culprit < 0) culprit = o.link.peer; }
        return new LinkFailure(LinkFailure.Kind.TIMEOUT, culprit, "timed out waiting for " + names.apply(culprit) + " (" + String.join("; ", state) + ")");
    }
}
