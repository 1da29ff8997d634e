package dev.fluxion.parallel.pipeline;

import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.fluxion.parallel.pipeline.Action.Kind.*;
import static org.junit.jupiter.api.Assertions.*;

/** Each kind of bad schedule is rejected before it runs, naming the rank and the action. */
class ScheduleValidatorTest {
    static Action a(Action.Kind k, int s, int i) { return new Action(k, s, i); }

    static ScheduleException rejects(Schedule s) { return assertThrows(ScheduleException.class, () -> ScheduleValidator.validate(s)); }

    @Test void deadlockIsRejectedNamingTheWaitingRanks() {
        var s = new Schedule("dead", 2, 2, 1, List.of(
                List.of(a(RECV_GRADIENT, 0, 0), a(FORWARD, 0, 0), a(SEND_ACTIVATION, 0, 0), a(BACKWARD, 0, 0)),
                List.of(a(RECV_ACTIVATION, 1, 0), a(FORWARD, 1, 0), a(BACKWARD, 1, 0), a(SEND_GRADIENT, 1, 0))));
        var e = rejects(s);
        assertEquals(0, e.rank());
        assertEquals(a(RECV_GRADIENT, 0, 0), e.action());
        assertTrue(e.getMessage().contains("deadlock") && e.getMessage().contains("rank 1 waits at action #0 RECV_F(1,0)"), e.getMessage());
    }

    @Test void aSendWithoutItsReceiveIsRejected() {
        var l = SchedulesTest.mutable(Schedules.oneForwardOneBackward(2, 2));
        l.get(0).add(a(SEND_ACTIVATION, 0, 1));          // a second send of micro-batch 1 that rank 1 never receives
        var e = rejects(new Schedule("extra-send", 2, 2, 2, l));
        assertEquals(0, e.rank());
        assertEquals(a(SEND_ACTIVATION, 0, 1), e.action());
        assertTrue(e.getMessage().contains("send without a receive"), e.getMessage());
    }

    @Test void aReceiveOutOfTheSendersOrderIsRejected() {
        var l = SchedulesTest.mutable(Schedules.gpipe(2, 2));
        // rank 1 receives micro-batch 1 first: it would get micro-batch 0's data
        List<Action> r1 = l.get(1);
        int i0 = r1.indexOf(a(RECV_ACTIVATION, 1, 0)), i1 = r1.indexOf(a(RECV_ACTIVATION, 1, 1));
        r1.set(i0, a(RECV_ACTIVATION, 1, 1));
        r1.set(i1, a(RECV_ACTIVATION, 1, 0));
        var e = rejects(new Schedule("swapped", 2, 2, 2, l));
        assertEquals(1, e.rank());
        assertEquals(a(RECV_ACTIVATION, 1, 1), e.action());
        assertTrue(e.getMessage().contains("matched in order"), e.getMessage());
    }

    @Test void aBackwardBeforeItsForwardIsRejected() {
        var s = new Schedule("b-first", 1, 1, 1, List.of(List.of(a(BACKWARD, 0, 0), a(FORWARD, 0, 0))));
        var e = rejects(s);
        assertEquals(0, e.rank());
        assertEquals(a(BACKWARD, 0, 0), e.action());
        assertTrue(e.getMessage().contains("backward before its forward"), e.getMessage());
        var w = new Schedule("w-first", 1, 1, 1, List.of(List.of(a(FORWARD, 0, 0), a(BACKWARD_WEIGHT, 0, 0), a(BACKWARD_INPUT, 0, 0))));
        assertEquals(a(BACKWARD_WEIGHT, 0, 0), rejects(w).action());
    }

    @Test void exceedingTheActivationBoundIsRejected() {
        ScheduleValidator.validate(Schedules.oneForwardOneBackward(4, 8), 4);
        var e = assertThrows(ScheduleException.class, () -> ScheduleValidator.validate(Schedules.gpipe(4, 8), 4));
        assertEquals(0, e.rank());
        assertEquals(Action.forward(0, 4), e.action());
        assertTrue(e.getMessage().contains("over the bound of 4"), e.getMessage());
    }

    @Test void missingWorkAndMisplacedStagesAreRejected() {
        var missing = new Schedule("no-b", 1, 1, 1, List.of(List.of(a(FORWARD, 0, 0))));
        assertEquals(Action.backward(0, 0), rejects(missing).action());
        var wrongRank = new Schedule("wrong-rank", 2, 2, 1, List.of(List.of(a(FORWARD, 1, 0)), List.of()));
        var e = rejects(wrongRank);
        assertTrue(e.getMessage().contains("lives on rank 1"), e.getMessage());
        var noW = new Schedule("no-w", 1, 1, 1, List.of(List.of(a(FORWARD, 0, 0), a(BACKWARD_INPUT, 0, 0))));
        assertEquals(Action.backwardWeight(0, 0), rejects(noW).action());
    }
}
