package dev.fluxion.parallel;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.*;

class StragglerTest {
    @Test void parsesRanksAndFactors() {
        Straggler s = Straggler.parse("2:3x, 0:1.5");
        assertEquals(3.0, s.factor(2));
        assertEquals(1.5, s.factor(0));
        assertEquals(1.0, s.factor(1));
        assertEquals(2_000_000, s.delayNanos(2, 1_000_000), "3x: the step's time, twice more");
        assertEquals(0, s.delayNanos(1, 1_000_000));
        assertEquals("0:1.5x,2:3.0x", s.toString());
        assertSame(Straggler.NONE, Straggler.parse(""));
    }

    @Test void refusesNonsenseByName() {
        var e = assertThrows(IllegalArgumentException.class, () -> Straggler.parse("2x3"));
        assertTrue(e.getMessage().contains("'2x3'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Straggler.parse("1:0.5x"));
    }
}
