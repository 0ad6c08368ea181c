/* oclgrind_repro: the smallest programs showing when Oclgrind 21.10's uninitialised-value check
 * (`oclgrind --uninitialized`) is right and when it is not, without varcl's code. Kernel "fill" writes every
 * element of a buffer; kernel "sum" reads every element and writes their sum to a one-float buffer.
 *
 *   oclgrind_repro unwritten     sum over a buffer nothing wrote: a real uninitialised read, reported
 *   oclgrind_repro reuse         fill+sum on 32 floats, release both buffers, then fill+sum on 64 floats:
 *                                every read was written, yet reported (the 64-float buffer takes the released
 *                                one's identity and its 32-float record of initialised bytes)
 *   oclgrind_repro reuse hold    the same with the released buffers kept until exit (as varcl does on
 *                                Oclgrind, host/policy.c hold_released): nothing reported
 *   oclgrind_repro shrink        the host writes element 0 of a 64-float buffer, fill writes all 64, sum reads
 *                                them: reported (the host write remade the record at 4 bytes)
 *   oclgrind_repro masked        fill+sum on 64 floats, release, then sum over 32 floats nothing wrote: a real
 *                                uninitialised read, missed (the new buffer inherits the old, written record)
 *   oclgrind_repro upper         kernel "upper" reads no memory: y = (float16)(n) for its argument n, stores
 *                                fmax(y.lo, y.hi): reported (lanes 8..15 of a float16 count as uninitialised;
 *                                cl/attention.cl's HI8 builds them lane by lane instead)
 *
 * Each prints what it computed; tests/CMakeLists.txt runs the first three under tests/oclgrind_check.sh. */
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *src =
    "__kernel void fill(__global float *b, int n) { int i = get_global_id(0); if (i < n) b[i] = i; }\n"
    "__kernel void sum(__global const float *b, __global float *o, int n) {\n"
    "    if (get_global_id(0)) return;\n"
    "    float s = 0;\n"
    "    for (int i = 0; i < n; i++) s += b[i];\n"
    "    o[0] = s;\n"
    "}\n"
    "__kernel void upper(__global float *o, int n) {\n"
    "    float16 y = (float16)(n);\n"
    "    vstore8(fmax(y.lo, y.hi), 0, o);\n"
    "}\n";

static cl_context ctx;
static cl_command_queue queue;
static cl_kernel k_fill, k_sum, k_upper;
static cl_mem held[8];
static int n_held, hold;

static void release(cl_mem m)
{
    if (hold) held[n_held++] = m;
    else clReleaseMemObject(m);
}

/* One case on a fresh buffer of n floats: host_first writes element 0 from the host first; fill runs unless
 * no_fill. Returns 0, or 1 on an OpenCL error. */
static int run(int n, int host_first, int no_fill)
{
    cl_int e1, e2;
    cl_mem b = clCreateBuffer(ctx, CL_MEM_READ_WRITE, (size_t)n * sizeof(float), NULL, &e1);
    cl_mem o = clCreateBuffer(ctx, CL_MEM_READ_WRITE, sizeof(float), NULL, &e2);
    if (e1 != CL_SUCCESS || e2 != CL_SUCCESS) return 1;
    size_t g = (size_t)n, one = 1;
    float zero = 0, s = -1;
    int err = 0;
    if (host_first) err |= clEnqueueWriteBuffer(queue, b, CL_TRUE, 0, sizeof zero, &zero, 0, NULL, NULL);
    err |= clSetKernelArg(k_fill, 0, sizeof b, &b) | clSetKernelArg(k_fill, 1, sizeof n, &n);
    if (!no_fill) err |= clEnqueueNDRangeKernel(queue, k_fill, 1, NULL, &g, NULL, 0, NULL, NULL);
    err |= clSetKernelArg(k_sum, 0, sizeof b, &b) | clSetKernelArg(k_sum, 1, sizeof o, &o) |
           clSetKernelArg(k_sum, 2, sizeof n, &n);
    err |= clEnqueueNDRangeKernel(queue, k_sum, 1, NULL, &one, NULL, 0, NULL, NULL);
    err |= clEnqueueReadBuffer(queue, o, CL_TRUE, 0, sizeof s, &s, 0, NULL, NULL);
    printf("%d floats%s%s: sum %g\n", n, host_first ? ", element 0 from the host" : "", no_fill ? ", unwritten" : "",
           (double)s);
    release(b);
    release(o);
    return err != CL_SUCCESS;
}

/* Kernel "upper" with n = 9: returns 0, or 1 on an OpenCL error. */
static int run_upper(void)
{
    cl_int e;
    cl_mem o = clCreateBuffer(ctx, CL_MEM_READ_WRITE, 8 * sizeof(float), NULL, &e);
    if (e != CL_SUCCESS) return 1;
    int n = 9, err = 0;
    size_t one = 1;
    float r[8] = {0};
    err |= clSetKernelArg(k_upper, 0, sizeof o, &o) | clSetKernelArg(k_upper, 1, sizeof n, &n);
    err |= clEnqueueNDRangeKernel(queue, k_upper, 1, NULL, &one, NULL, 0, NULL, NULL);
    err |= clEnqueueReadBuffer(queue, o, CL_TRUE, 0, sizeof r, r, 0, NULL, NULL);
    printf("fmax(y.lo, y.hi) for y = (float16)(9): %g ... %g\n", (double)r[0], (double)r[7]);
    release(o);
    return err != CL_SUCCESS;
}

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "";
    hold = argc > 2 && !strcmp(argv[2], "hold");
    if (strcmp(which, "unwritten") && strcmp(which, "reuse") && strcmp(which, "shrink") && strcmp(which, "masked") &&
        strcmp(which, "upper")) {
        fprintf(stderr, "usage: oclgrind_repro unwritten|reuse|shrink|masked|upper [hold]\n");
        return 2;
    }
    cl_platform_id platform;
    cl_device_id device;
    cl_int err;
    if (clGetPlatformIDs(1, &platform, NULL) != CL_SUCCESS ||
        clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, 1, &device, NULL) != CL_SUCCESS) {
        fprintf(stderr, "oclgrind_repro: no OpenCL device\n");
        return 1;
    }
    ctx = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    queue = clCreateCommandQueue(ctx, device, 0, &err);
    cl_program prog = clCreateProgramWithSource(ctx, 1, &src, NULL, &err);
    if (clBuildProgram(prog, 1, &device, "", NULL, NULL) != CL_SUCCESS) {
        fprintf(stderr, "oclgrind_repro: build failed\n");
        return 1;
    }
    k_fill = clCreateKernel(prog, "fill", &err);
    k_sum = clCreateKernel(prog, "sum", &err);
    k_upper = clCreateKernel(prog, "upper", &err);
    int st = 0;
    if (!strcmp(which, "unwritten")) st = run(32, 0, 1);
    else if (!strcmp(which, "reuse")) st = run(32, 0, 0) || run(64, 0, 0);
    else if (!strcmp(which, "shrink")) st = run(64, 1, 0);
    else if (!strcmp(which, "masked")) st = run(64, 0, 0) || run(32, 0, 1);
    else st = run_upper();
    for (int i = 0; i < n_held; i++) clReleaseMemObject(held[i]);
    clReleaseKernel(k_fill);
    clReleaseKernel(k_sum);
    clReleaseKernel(k_upper);
    clReleaseProgram(prog);
    clReleaseCommandQueue(queue);
    clReleaseContext(ctx);
    return st;
}
