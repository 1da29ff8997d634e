package dev.fluxion.parallel.launch;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.*;

/** Whom fluxrun blames, from what it saw of its ranks (no processes). */
class CulpritTest {
    static Culprit.Seen exited(int rank, int code, Integer... named) { return new Culprit.Seen(rank, code, false, Set.of(named)); }

    @Test void aRankKilledByASignalIsTheCauseEvenWhenASurvivorExitedFirst() {
        var c = Culprit.of(List.of(exited(0, 1, 2), exited(1, 1, 2), exited(2, 137)), 0, 1);
        assertEquals(2, c.rank());
        assertEquals(137, c.exitCode());
        assertEquals("was killed by signal 9 (exit code 137); ranks 0, 1 name it as the cause", c.why());
    }

    @Test void theRankTheOthersNameIsTheCauseWhenItNeverExited() {
        var stopped = new Culprit.Seen(2, null, true, Set.of());
        var c = Culprit.of(List.of(exited(0, 1, 2), exited(1, 1, 2), stopped, exited(3, 1, 2)), 1, 1);
        assertEquals(2, c.rank());
        assertEquals(1, c.exitCode(), "the culprit never exited: the first failure's code");
        assertTrue(c.why().startsWith("was stopped (SIGSTOP); ranks 0, 1, 3 name it"), c.why());
        var hung = new Culprit.Seen(2, null, false, Set.of());
        assertTrue(Culprit.of(List.of(exited(0, 1, 2), hung), 0, 1).why().startsWith("stalled: it was still running; rank 0 names it"));
    }

    @Test void aRankOnAnotherNodeCanBeTheCauseAndTheMajorityWins() {
        var c = Culprit.of(List.of(exited(0, 1, 5), exited(1, 1, 5), exited(2, 1, 1)), 2, 1);
        assertEquals(5, c.rank());
        assertTrue(c.why().startsWith("(on another node) failed or is unreachable; ranks 0, 1 name it"), c.why());
        assertTrue(Culprit.of(List.of(exited(0, 1, 5)), 0, 1, r -> r / 3).why().startsWith("(on node 1) failed or is unreachable; rank 0 names it"));
    }

    @Test void withoutReportsTheFirstFailureIsTheCause() {
        var c = Culprit.of(List.of(exited(0, 0), exited(1, 7), new Culprit.Seen(2, null, false, Set.of())), 1, 7);
        assertEquals(new Culprit(1, "failed with exit code 7", 7), c);
    }
}
