package dev.fluxion.cuda;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/** Where the build had nvcc (fluxion.kernels.expected, set by native/pom.xml), the jar must carry the fatbin. */
class KernelsResourceTest {
    @Test void fatbinPresentWhenNvccWas() {
        byte[] f = Kernels.fatbin();
        if (!Boolean.getBoolean("fluxion.kernels.expected") || Boolean.getBoolean("fluxion.kernels.skip"))
            Assumptions.assumeTrue(f != null, "built without nvcc: no kernels resource to check");
        assertNotNull(f, Kernels.RESOURCE + " missing although nvcc was present at build time");
        // fatbin container header: magic 0xBA55ED50, version 1
        ByteBuffer b = ByteBuffer.wrap(f).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0xBA55ED50, b.getInt(0), "not a fatbin");
        assertEquals(1, b.getShort(4));
    }
}
