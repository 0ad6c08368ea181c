/* policy_tune: the device's file of measured work-group sizes, read when the device opens (see policy_tune.h; the
 * measuring and the writing are vbench's, bench/tune_policy.c). */
#include "policy_tune.h"

#include "cachefile.h"
#include "error.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const vp_wg_keys[VP_WG_KINDS] = {"elem_local", "simt_local", "attn_local", "simt_rows"};

void vp_wg_path(const vr_device *dev, char *buf, size_t n) { vcf_device_path(dev, "policy", buf, n); }

static void set_field(vp_policy *p, int kind, size_t v)
{
    if (kind == VP_WG_ELEM) p->elem_local = v;
    else if (kind == VP_WG_SIMT) p->simt_local = v;
    else if (kind == VP_WG_ATTN) p->attn_local = v;
    else p->simt_rows = (int)v;
}

/* ---- reading the file ---- */

/* The file's contents over p; 0, or 1 with "line N: reason" in why. */
static int parse(FILE *f, const vr_device *dev, vp_policy *p, char *why, size_t n)
{
    int line_no = 1, format = 0, seen_dev[3] = {0}, family = -1, have[VP_WG_KINDS] = {0}, few_kernel = -1;
    size_t val_of[VP_WG_KINDS] = {0};
    char line[1200], reason[300];
    char *s;
    int got;
    while ((got = vcf_next_line(f, line, sizeof line, &line_no, &s, why, n)) > 0) {
        char *eq = strchr(s, '=');
        if (!eq) return snprintf(why, n, "line %d: expected 'key = value', got '%.60s'", line_no, s), 1;
        *eq = 0;
        char *key = vcf_trim(s), *val = vcf_trim(eq + 1);
        int dl = vcf_device_line(key, val, dev, seen_dev, reason, sizeof reason), k = 0;
        while (k < VP_WG_KINDS && strcmp(key, vp_wg_keys[k])) k++;
        if (dl > 0) return snprintf(why, n, "line %d: %s", line_no, reason), 1;
        if (dl == 0 || !strcmp(key, "date")) continue;
        if (!strcmp(key, "format")) {
            if (format) return snprintf(why, n, "line %d: format is given twice", line_no), 1;
            if (strcmp(val, "1"))
                return snprintf(why, n, "line %d: format %s is not %d (another varcl version?)", line_no, val,
                                VP_WG_FORMAT),
                       1;
            format = 1;
        } else if (!strcmp(key, "family")) {
            if (strcmp(val, "cpu") && strcmp(val, "gpu"))
                return snprintf(why, n, "line %d: family must be cpu or gpu, got '%.20s'", line_no, val), 1;
            if (family >= 0) return snprintf(why, n, "line %d: family is given twice", line_no), 1;
            family = strcmp(val, "cpu") ? VP_GPU : VP_CPU;
        } else if (!strcmp(key, "few_rows_kernel")) {
            if (strcmp(val, "splitk") && strcmp(val, "simt"))
                return snprintf(why, n, "line %d: few_rows_kernel must be splitk or simt, got '%.20s'", line_no, val), 1;
            if (few_kernel >= 0) return snprintf(why, n, "line %d: few_rows_kernel is given twice", line_no), 1;
            few_kernel = !strcmp(val, "splitk");
        } else if (k < VP_WG_KINDS) {
            char *end;
            errno = 0;
            unsigned long v = strtoul(val, &end, 10);
            size_t cap = dev->max_work_group && dev->max_work_group < 1024 ? dev->max_work_group : 1024;
            if (k == VP_WG_ROWS) {
                if (end == val || *end || errno || !isdigit((unsigned char)val[0]) || v > (1u << 20))
                    return snprintf(why, n, "line %d: %s must be a whole number from 0 to 1048576, got '%.20s'",
                                    line_no, key, val),
                           1;
            } else if (end == val || *end || errno || !isdigit((unsigned char)val[0]) || v > cap || (v & (v - 1)))
                return snprintf(why, n, "line %d: %s must be 0 or a power of two up to %zu (this device), got '%.20s'",
                                line_no, key, cap, val),
                       1;
            if (have[k]++) return snprintf(why, n, "line %d: %s is given twice", line_no, key), 1;
            val_of[k] = v;
        } else {
            return snprintf(why, n, "line %d: unknown key '%.40s'", line_no, key), 1;
        }
    }
    if (got < 0) return 1;
    if (ferror(f)) return snprintf(why, n, "read error: %s", strerror(errno)), 1;
    if (!format) return snprintf(why, n, "no 'format = %d' line", VP_WG_FORMAT), 1;
    if (!seen_dev[0] || !seen_dev[1] || !seen_dev[2])
        return snprintf(why, n, "the device, driver and platform lines are required"), 1;
    if (family < 0) return snprintf(why, n, "no 'family' line"), 1;
    /* a threshold says nothing without the kernel it was timed with (files written before that line existed) */
    if (have[VP_WG_ROWS] && few_kernel < 0)
        return snprintf(why, n, "simt_rows without a few_rows_kernel line (the kernel it was timed with): re-run "
                                "vbench --tune"),
               1;
    if (family != p->family) return 0; /* measured for the other family (VARCL_POLICY): not this policy's shapes */
    int any = 0;
    for (int k = 0; k < VP_WG_KINDS; k++)
        if (have[k]) {
            /* VARCL_SIMT_ROWS, set by vp_choose, wins over the file; a threshold timed with the other few-row
             * kernel (VARCL_FEW_ROWS) says nothing about this one */
            if (k == VP_WG_ROWS && ((getenv("VARCL_SIMT_ROWS") && *getenv("VARCL_SIMT_ROWS")) ||
                                    few_kernel != p->few_splitk))
                continue;
            set_field(p, k, val_of[k]);
            any = 1;
        }
    if (any) {
        size_t used = strlen(p->reason);
        snprintf(p->reason + used, sizeof p->reason - used, "; work-groups measured");
    }
    return 0;
}

static int parse_cb(FILE *f, void *ctx, char *why, size_t n)
{
    vr_runtime *rt = ctx;
    return parse(f, &rt->dev, &rt->policy, why, n);
}

int vp_wg_apply(vr_runtime *rt)
{
    const char *env = getenv("VARCL_POLICY_TUNING");
    if (env && !strcmp(env, "off")) return 0;
    if (env && *env && strcmp(env, "on"))
        return varcl_fail(VARCL_E_INPUT, "VARCL_POLICY_TUNING=%s: expected on or off", varcl_shown(env));
    char path[1024];
    vp_wg_path(&rt->dev, path, sizeof path);
    int found;
    return path[0] ? vcf_parse_text(path, "policy-tuning", "work-group file", parse_cb, rt, &found) : 0;
}
