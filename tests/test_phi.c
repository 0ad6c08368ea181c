/* test_phi: the scale-to-phi rule (vq_phi_index) against upstream's, computed at test time by numpy exactly as
 * upstream's models/quant.py does (ticks = np.linspace(...), argmin |ticks - si / (SN - 1)|), for every phi count
 * 1..32 and scale count 2..16; and VAR_SPEC.md 4's 4-phi table, where numpy's rounding of the ticks decides two
 * exact ties. Needs python3 with numpy (as models/convert.py does). */
#include "check.h"
#include "vq.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char script[] =
    "import numpy as np\n"
    "for k in range(1, 33):\n"
    "    t = np.linspace(1/3/k, 1-1/3/k, k) if k == 4 else np.linspace(1/2/k, 1-1/2/k, k)\n"
    "    for sn in range(2, 17):\n"
    "        print(k, sn, *[int(np.argmin(np.abs(t - si/(sn-1))).item()) for si in range(sn)])\n";

/* Debian's python3 (with numpy) when it is there: another python3 first on PATH may lack numpy. */
static const char *access_python(void) { return access("/usr/bin/python3", X_OK) == 0 ? "/usr/bin/python3" : "python3"; }

int main(void)
{
    static const int spec4[10] = {0, 0, 1, 1, 1, 2, 2, 3, 3, 3}; /* VAR_SPEC.md 4 (numpy 1.24) */
    static const int kit6[10] = {0, 0, 1, 1, 2, 3, 3, 4, 5, 5};  /* tests/data/bad-inputs case07 */
    for (int si = 0; si < 10; si++) {
        CHECK(vq_phi_index(si, 10, 4) == spec4[si], "4 phis, scale %d: %d, VAR_SPEC says %d", si,
              vq_phi_index(si, 10, 4), spec4[si]);
        CHECK(vq_phi_index(si, 10, 6) == kit6[si], "6 phis, scale %d: %d, upstream %d", si, vq_phi_index(si, 10, 6),
              kit6[si]);
        CHECK(vq_phi_index(si, 10, 1) == 0, "one shared phi");
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "%s -c '%s'", access_python(), script);
    FILE *p = popen(cmd, "r");
    CHECK(p != NULL, "python3 with numpy runs");
    int rows = 0, k, sn, n;
    char line[512];
    while (p && fgets(line, sizeof line, p)) {
        char *s = line;
        if (sscanf(s, "%d %d%n", &k, &sn, &n) != 2) break;
        s += n;
        for (int si = 0; si < sn; si++) {
            int want;
            if (sscanf(s, "%d%n", &want, &n) != 1) break;
            s += n;
            CHECK(vq_phi_index(si, sn, k) == want, "K %d, %d scales, scale %d: %d, numpy %d", k, sn, si,
                  vq_phi_index(si, sn, k), want);
        }
        rows++;
    }
    int st = p ? pclose(p) : -1;
    CHECK(st == 0 && rows == 32 * 15, "numpy's table: %d rows (python3 exit %d)", rows, st);
    return check_done();
}
