/* linear_rows: y[m][n] = sum_k x[m][k] * wt[k][n] for products of few rows (the early scales), where CLBlast pads the
 * rows to its 32..256-row tiles and computes mostly padding. Each work-item owns VW consecutive output columns as one
 * vector (explicit vectors: pocl's loop vectoriser cannot vectorise across work-items around an inner loop), reads
 * each weight once per RB rows, and broadcasts x. Rows past M repeat row M-1 and are not written.
 * x: [M][K] from x_off; wt: [K][N]; y: [M][N] from y_off; N a multiple of VW. Global (N / VW). */
#define LINEAR_ROWS(RB, VW)                                                                                            \
    __kernel void linear_rows##RB##_##VW(__global const float *x, int x_off, __global const float *wt,                 \
                                         __global float *y, int y_off, int M, int N, int K)                            \
    {                                                                                                                  \
        int n = get_global_id(0) * VW;                                                                                 \
        if (n >= N) return;                                                                                            \
        float##VW acc[RB];                                                                                             \
        for (int m = 0; m < RB; m++) acc[m] = (float##VW)(0.0f);                                                       \
        __global const float *xb = x + x_off;                                                                          \
        for (int k = 0; k < K; k++) {                                                                                  \
            float##VW wk = vload##VW(0, wt + (size_t)k * N + n);                                                       \
            for (int m = 0; m < RB; m++) acc[m] = fma((float##VW)(xb[min(m, M - 1) * K + k]), wk, acc[m]);            \
        }                                                                                                              \
        for (int m = 0; m < RB && m < M; m++) vstore##VW(acc[m], 0, y + y_off + (size_t)m * N + n);                    \
    }

LINEAR_ROWS(4, 16)
LINEAR_ROWS(8, 16)
