package dev.fluxion.nn;

import dev.fluxion.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A module or parameter kept in a field but never registered fails at parameters() and forward, naming the field. */
class UnregisteredFieldTest {
    static final class Forgot extends Module {
        private final Linear hidden;                            // never registered: the bug
        private final Child<Module> out;

        Forgot(Init init) {
            hidden = new Linear(4, 8, true, init);
            out = child("out", new Linear(8, 2, true, init));
        }

        @Override protected Tensor compute(Tensor x) { return out.forward(hidden.forward(x)); }
    }

    static final class ForgotParameter extends Module {
        private final Parameter scale = new Parameter(Tensor.ones(3));
        @Override protected Tensor compute(Tensor x) { return x.mul(scale); }
    }

    static final class InAList extends Module {
        private final List<Module> layers;
        InAList(Init init) { layers = List.of(register("a", new Linear(2, 2, true, init)), new Linear(2, 2, true, init)); }
        @Override protected Tensor compute(Tensor x) { return layers.get(1).forward(layers.get(0).forward(x)); }
    }

    static final class Fine extends Module {
        private final Linear a;
        private final Child<Module> b;
        private final transient Linear shared;                   // owned elsewhere, on purpose
        private final Parameter tied;

        Fine(Init init, Linear elsewhere) {
            a = register("a", new Linear(2, 2, true, init));
            b = child("b", new Linear(2, 2, true, init));
            shared = elsewhere;
            tied = a.weight();                                     // registered in a descendant: fine
        }

        @Override protected Tensor compute(Tensor x) { return b.forward(a.forward(x)).add(shared.forward(x)).add(x.matmul(tied.t())); }
    }

    @Test
    void unregisteredModuleFieldIsNamed() {
        var m = new Forgot(Init.seed(1));
        var e = assertThrows(IllegalStateException.class, m::parameters);
        assertTrue(e.getMessage().contains("field 'hidden'") && e.getMessage().contains("Linear") && e.getMessage().contains("Forgot"), e.getMessage());
        assertThrows(IllegalStateException.class, () -> m.forward(Tensor.ones(1, 4)));
    }

    @Test
    void unregisteredParameterAndListElementAreNamed() {
        var e = assertThrows(IllegalStateException.class, () -> new ForgotParameter().forward(Tensor.ones(3)));
        assertTrue(e.getMessage().contains("field 'scale'") && e.getMessage().contains("Parameter"), e.getMessage());
        var wrapper = new Sequential(new InAList(Init.seed(2)));   // found from the root's parameters() too
        e = assertThrows(IllegalStateException.class, wrapper::parameters);
        assertTrue(e.getMessage().contains("field 'layers'"), e.getMessage());
    }

    @Test
    void registeredChildHandlesTransientAndTiedFieldsPass() {
        var fine = new Fine(Init.seed(3), new Linear(2, 2, true, Init.seed(4)));
        assertEquals(4, fine.parameters().size());
        assertEquals(List.of(1, 2), List.of(fine.forward(Tensor.ones(1, 2)).shape()[0], fine.forward(Tensor.ones(1, 2)).shape()[1]));
    }
}
