/* runtime: device enumeration and choice, the program-binary cache (written, reused, a corrupt entry falls back
 * to a source build, "off" disables it), kernels from VARCL_KERNEL_DIR, error names, memory accounting, copies and
 * fills and the launch and sync counters. */
#include "check.h"
#include "error.h"
#include "runtime.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int count_files(const char *dir, char *first, size_t n)
{
    DIR *d = opendir(dir);
    int c = 0;
    if (!d) return 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.') {
            if (!c && first) snprintf(first, n, "%s/%s", dir, e->d_name);
            c++;
        }
    closedir(d);
    return c;
}

int main(void)
{
    vr_device *devs;
    int n;
    CHECK(vr_list_devices(&devs, &n) == 0 && n >= 1, "at least one device: %s", varcl_last_error());
    if (n < 1) return check_done();
    printf("%d device(s); device 0: %s / %s / %s\n", n, devs[0].platform_name, devs[0].name, devs[0].vendor);

    /* choice: by index, by case-insensitive substring, unknown spec is an input error */
    vr_device d;
    CHECK(vr_choose_device("0", &d) == 0 && d.index == 0, "device by index");
    char sub[8];
    snprintf(sub, sizeof sub, "%.4s", devs[0].platform_name);
    for (char *p = sub; *p; p++) *p = (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p); /* upper case */
    CHECK(vr_choose_device(sub, &d) == 0, "device by substring '%s': %s", sub, varcl_last_error());
    CHECK(vr_choose_device("no-such-device-xyz", &d) == VARCL_E_INPUT, "unknown device refused");
    CHECK(strstr(varcl_last_error(), "no-such-device-xyz") != NULL, "message names the spec: %s", varcl_last_error());
    char idx[16];
    snprintf(idx, sizeof idx, "%d", n);
    CHECK(vr_choose_device(idx, &d) == VARCL_E_INPUT, "index past the last device refused");
    CHECK(vr_choose_device("-0", &d) == VARCL_E_INPUT && strstr(varcl_last_error(), "device '-0': an index is digits only"),
          "a signed index refused (digits only): %s", varcl_last_error());
    CHECK(vr_choose_device(idx, &d) == VARCL_E_INPUT && strstr(varcl_last_error(), "no device of that index"),
          "index past the last device: %s", varcl_last_error());
    /* the name users call an implementation by is its platform's vendor's ("The pocl project") */
    for (int i = 0; i < n; i++)
        if (strstr(devs[i].platform_name, "Portable Computing Language"))
            CHECK(vr_choose_device("pocl", &d) == 0 && strstr(d.platform_name, "Portable Computing Language"),
                  "--device pocl: %s", varcl_last_error());
    CHECK(vr_choose_device(" \t", &d) == VARCL_E_INPUT && strstr(varcl_last_error(), "blank"),
          "a blank spec refused: %s", varcl_last_error());
    setenv("VARCL_DEVICE", "no-such-device-xyz", 1);
    CHECK(vr_choose_device(NULL, &d) == VARCL_E_INPUT && strstr(varcl_last_error(), "VARCL_DEVICE 'no-such-device-xyz'"),
          "VARCL_DEVICE is honoured, and named in the message: %s", varcl_last_error());
    unsetenv("VARCL_DEVICE");
    free(devs);

    /* binary cache */
    char dir[512], bin[4200] = "";
    CHECK(check_mkdtemp(dir, sizeof dir, "cache-test") != NULL, "mkdtemp");
    setenv("VARCL_CACHE_DIR", dir, 1);
    vr_runtime rt;
    CHECK(vr_open(&rt, NULL, 0) == 0, "open (cold cache): %s", varcl_last_error());
    CHECK(rt.n_kernels > 10 && vr_kernel(&rt, "attention_f32") != NULL, "kernels created (%d)", rt.n_kernels);
    CHECK(vr_kernel(&rt, "no_such_kernel") == NULL && strstr(varcl_last_error(), "no_such_kernel"), "missing kernel named");
    vr_close(&rt);
    CHECK(count_files(dir, bin, sizeof bin) == 1, "one program binary cached in %s", dir);
    CHECK(vr_open(&rt, NULL, 0) == 0 && vr_kernel(&rt, "attention_f32"), "open from the cached binary");
    vr_close(&rt);
    FILE *f = fopen(bin, "wb");
    if (f) {
        fputs("not a program binary", f);
        fclose(f);
    }
    CHECK(vr_open(&rt, NULL, 0) == 0 && vr_kernel(&rt, "attention_f32"), "a corrupt cache entry falls back to source: %s",
          varcl_last_error());
    vr_close(&rt);
    unlink(bin);
    rmdir(dir);
    setenv("VARCL_CACHE_DIR", "off", 1);
    CHECK(vr_open(&rt, NULL, 0) == 0, "open with the cache off");
    vr_close(&rt);
    CHECK(access(dir, F_OK) != 0, "cache off writes nothing");

    /* where the cache lives: VARCL_CACHE_DIR, else an absolute XDG_CACHE_HOME, else HOME (a relative XDG_CACHE_HOME
     * is invalid by the XDG rules: it would put the cache in whatever folder the tool started from) */
    char cache[4200], home[4096], want[4200];
    CHECK(check_mkdtemp(home, sizeof home, "test-runtime-home"), "mkdtemp");
    unsetenv("VARCL_CACHE_DIR");
    setenv("HOME", home, 1);
    setenv("XDG_CACHE_HOME", "/x", 1);
    vr_cache_dir(cache, sizeof cache);
    CHECK(!strcmp(cache, "/x/varcl"), "absolute XDG_CACHE_HOME used: '%s'", cache);
    setenv("XDG_CACHE_HOME", "rel/cache", 1);
    vr_cache_dir(cache, sizeof cache);
    snprintf(want, sizeof want, "%s/.cache/varcl", home);
    CHECK(!strcmp(cache, want), "relative XDG_CACHE_HOME ignored: '%s'", cache);
    /* an XDG_CACHE_HOME whose parent is missing is not made as a tree (the folder itself may be: the XDG rules) */
    snprintf(want, sizeof want, "%s/none/.cache", home);
    setenv("XDG_CACHE_HOME", want, 1);
    vr_cache_dir(cache, sizeof cache);
    snprintf(want, sizeof want, "%s/.cache/varcl", home);
    CHECK(!strcmp(cache, want), "XDG_CACHE_HOME under a missing folder: HOME's cache instead: '%s'", cache);
    snprintf(want, sizeof want, "%s/.cache", home);
    setenv("XDG_CACHE_HOME", want, 1);
    vr_cache_dir(cache, sizeof cache);
    snprintf(want, sizeof want, "%s/.cache/varcl", home);
    CHECK(!strcmp(cache, want), "XDG_CACHE_HOME itself missing, its parent there: used: '%s'", cache);
    /* a HOME that does not exist (HOME=/nonexistent: a system user's "no home") is not made: no cache */
    unsetenv("XDG_CACHE_HOME");
    snprintf(want, sizeof want, "%s/none", home);
    setenv("HOME", want, 1);
    CHECK(vr_cache_dir(cache, sizeof cache) == 0 && cache[0] == 0, "missing HOME: no cache: '%s'", cache);
    CHECK(vr_open(&rt, NULL, 0) == 0, "open without a home: %s", varcl_last_error());
    vr_close(&rt);
    CHECK(access(want, F_OK) != 0, "a missing HOME is not made");
    rmdir(home);
    setenv("HOME", home, 1);
    setenv("VARCL_CACHE_DIR", dir, 1);
    vr_cache_dir(cache, sizeof cache);
    CHECK(!strcmp(cache, dir), "VARCL_CACHE_DIR first: '%s'", cache);
    setenv("VARCL_CACHE_DIR", "off", 1);
    vr_cache_dir(cache, sizeof cache);
    CHECK(cache[0] == 0, "VARCL_CACHE_DIR=off: no cache: '%s'", cache);
    /* a path longer than every cache file's name buffer allows: no cache, not one cut short (it put the weight
     * cache in a sibling folder named by the cut path) */
    char longdir[VR_CACHE_DIR_MAX + 8];
    memset(longdir, 'd', sizeof longdir - 1);
    longdir[0] = '/', longdir[sizeof longdir - 1] = 0;
    setenv("VARCL_CACHE_DIR", longdir, 1);
    CHECK(vr_cache_dir(cache, sizeof cache) == -1 && cache[0] == 0, "a %zu-byte cache path: '%.20s...'",
          strlen(longdir), cache);
    longdir[VR_CACHE_DIR_MAX] = 0;
    setenv("VARCL_CACHE_DIR", longdir, 1);
    CHECK(vr_cache_dir(cache, sizeof cache) == 0 && !strcmp(cache, longdir), "a %d-byte cache path refused",
          VR_CACHE_DIR_MAX);

    /* a VARCL_CACHE_DIR that cannot be the folder meant is refused when the device opens, not made or ignored */
    {
        const char *const refused[] = {" ", "OFF", "off ", " x", "a\nb", "/dev/null", longdir};
        longdir[VR_CACHE_DIR_MAX] = 'd';
        for (size_t i = 0; i < sizeof refused / sizeof *refused; i++) {
            vr_runtime rt;
            setenv("VARCL_CACHE_DIR", refused[i], 1);
            int st = vr_open(&rt, NULL, 0);
            if (st == VARCL_OK) vr_close(&rt);
            CHECK(st == VARCL_E_INPUT && strstr(varcl_last_error(), "VARCL_CACHE_DIR"),
                  "VARCL_CACHE_DIR='%.20s' refused: %d %s", refused[i], st, varcl_last_error());
        }
        unsetenv("VARCL_CACHE_DIR");
    }

    /* kernels from a directory: it must hold every file of cl/ (an empty folder is named, with the first file
     * missing); then a broken source gives the build log in the error. The files are made empty but for one. */
    static const char *const cl_files[] = {"attention.cl", "classifier.cl", "conv.cl",      "elementwise.cl",
                                           "linear.cl",    "norm.cl",       "sample_math.cl", "sampler.cl",
                                           "vq.cl",        "winograd.cl"};
    enum { N_CL = sizeof cl_files / sizeof *cl_files };
    char kdir[512], path[4200];
    CHECK(check_mkdtemp(kdir, sizeof kdir, "kernels-test") != NULL, "mkdtemp");
    setenv("VARCL_KERNEL_DIR", kdir, 1);
    CHECK(vr_open(&rt, NULL, 0) == VARCL_E_INPUT, "an empty VARCL_KERNEL_DIR fails the open as the user's to fix");
    CHECK(strstr(varcl_last_error(), kdir) && strstr(varcl_last_error(), "attention.cl is missing"),
          "the folder and the missing file named: %.200s", varcl_last_error());
    for (int i = 0; i < N_CL; i++) {
        snprintf(path, sizeof path, "%s/%s", kdir, cl_files[i]);
        f = fopen(path, "w");
        if (f && i == 0) fputs("__kernel void broken(__global float *x) { x[0] = undefined_symbol; }\n", f);
        if (f) fclose(f);
    }
    CHECK(vr_open(&rt, NULL, 0) == VARCL_E_RUNTIME, "a kernel that does not compile fails the open");
    CHECK(strstr(varcl_last_error(), "clBuildProgram") && strstr(varcl_last_error(), "undefined_symbol"),
          "build log in the message: %.200s", varcl_last_error());
    unsetenv("VARCL_KERNEL_DIR");
    for (int i = 0; i < N_CL; i++) {
        snprintf(path, sizeof path, "%s/%s", kdir, cl_files[i]);
        unlink(path);
    }
    rmdir(kdir);

    /* a message is one line whatever it quotes (control characters as C escapes), and a message may quote the last
     * one (varcl_last_error() as an argument) */
    varcl_fail(VARCL_E_INPUT, "a\nb\r\tc\x1b%s", "d");
    CHECK(!strcmp(varcl_last_error(), "a\\nb\\r\tc\\x1bd"), "escaped: '%s'", varcl_last_error());
    varcl_fail(VARCL_E_INPUT, "outer: %s", varcl_last_error());
    CHECK(!strcmp(varcl_last_error(), "outer: a\\nb\\r\tc\\x1bd"), "quoting the last message: '%s'",
          varcl_last_error());

    /* UTF-8 is kept; bytes that are not (Latin-1, overlong forms, surrogates, a sequence cut short), C1 controls and
     * the invisible byte-order mark are escaped, in messages and in what the tools print */
    varcl_fail(VARCL_E_INPUT, "%s", "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80|\xe9|\xc0\xaf|\xed\xa0\x80|\xe6\x97|\xc2\x9b|"
                                    "\xef\xbb\xbfmodel|\xf4\x90\x80\x80|\xff|a\xe2\x80\xa8" "b\xe2\x80\xae" "c\xe2\x81\xa9\xe2\x80\x8f|\xe2\x80\x94");
    CHECK(!strcmp(varcl_last_error(), "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80|\\xe9|\\xc0\\xaf|\\xed\\xa0\\x80|\\xe6\\x97|"
                                      "\\u009b|\\ufeffmodel|\\xf4\\x90\\x80\\x80|\\xff|a\\u2028b\\u202ec\\u2069\\u200f|\xe2\x80\x94"),
          "UTF-8 kept, the rest escaped: '%s'", varcl_last_error());

    /* error names and memory accounting */
    CHECK(strcmp(vr_error_name(-5), "CL_OUT_OF_RESOURCES") == 0, "CL error names");
    CHECK(strcmp(vr_error_name(-2045), "CLBlastNoHalfPrecision") == 0, "CLBlast error names");
    CHECK(vr_check(-36, "clFoo") == VARCL_E_RUNTIME && strstr(varcl_last_error(), "clFoo failed: CL_INVALID_COMMAND_QUEUE"),
          "vr_check names the call and the error");
    CHECK(vr_open(&rt, NULL, 0) == 0, "open");
    cl_mem a = vm_alloc(&rt.mem, VM_KV, 1000, "a"), b = vm_alloc(&rt.mem, VM_WEIGHTS, 3000, "b");
    CHECK(a && b && rt.mem.stats.live[VM_KV] == 1000 && rt.mem.stats.live_total == 4000, "live bytes per tag");
    vm_free(&rt.mem, a);
    CHECK(rt.mem.stats.live[VM_KV] == 0 && rt.mem.stats.peak[VM_KV] == 1000 && rt.mem.stats.peak_total == 4000,
          "peak kept after free");
    CHECK(vm_alloc(&rt.mem, VM_ACT, (size_t)rt.dev.max_alloc + 1, "huge") == NULL &&
              strstr(varcl_last_error(), "huge") && strstr(varcl_last_error(), "largest allocation"),
          "an allocation over CL_DEVICE_MAX_MEM_ALLOC_SIZE is refused: %s", varcl_last_error());

    /* the counters vbench reports per image: a copy and a fill between buffers are launches (commands the driver
     * pays for), a blocking read and vr_finish are syncs; the copy and fill land where asked */
    float host[8] = {1, 2, 3, 4, 5, 6, 7, 8}, back[8] = {0};
    b = vm_alloc(&rt.mem, VM_ACT, sizeof host, "b");
    a = vm_alloc(&rt.mem, VM_ACT, sizeof host, "a");
    CHECK(a && b && vr_write(&rt, b, 0, sizeof host, host) == 0, "upload: %s", varcl_last_error());
    unsigned long long l0 = rt.launches, s0 = rt.syncs;
    CHECK(vr_copy(&rt, b, 2 * sizeof(float), a, 0, 6 * sizeof(float), "t") == 0 &&
              vr_fill_zero(&rt, a, 4 * sizeof(float), 2 * sizeof(float), "t") == 0,
          "copy and fill: %s", varcl_last_error());
    CHECK(rt.launches - l0 == 2 && rt.syncs == s0, "a copy and a fill count 2 launches, no sync (%llu, %llu)",
          rt.launches - l0, rt.syncs - s0);
    CHECK(vr_finish(&rt) == 0 && vr_read(&rt, a, 0, sizeof back, back) == 0 && rt.syncs - s0 == 2,
          "a finish and a read count 2 syncs (%llu)", rt.syncs - s0);
    CHECK(back[0] == 3 && back[3] == 6 && back[4] == 0 && back[5] == 0, "copied from offset 2, zeros at 4..5: %g %g %g %g",
          back[0], back[3], back[4], back[5]);
    CHECK(vr_copy(&rt, b, 0, a, 4, sizeof host, "the test's buffer") == VARCL_E_RUNTIME &&
              strstr(varcl_last_error(), "the test's buffer"),
          "a copy past the end fails naming the buffer: %s", varcl_last_error());
    vm_free(&rt.mem, a);
    vm_free(&rt.mem, b);
    vr_close(&rt);
    return check_done();
}
