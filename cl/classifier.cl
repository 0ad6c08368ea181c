/* classifier: the image classifier's own steps (host/classifier.h); its convolutions and its linear layer are
 * conv.cl's im2col and the engine's products. Maps are channels-last [B][H][W][C], as everywhere in the engine. */

/* x[b][i][j][c] = mean of the f x f block of rgb[b][i*f .. i*f+f-1][j*f .. j*f+f-1][c] / 255 (f = size / side):
 * the classifier's input, the recipe's classifier.downsample. rgb: [B][size][size][3] 8-bit; x: [B][side][side][3].
 * One work-item per output pixel: global (B * side * side). */
__kernel void box_down_u8(__global const uchar *rgb, __global float *x, int B, int size, int side)
{
    int p = get_global_id(0);
    if (p >= B * side * side) return;
    int b = p / (side * side), i = p / side % side, j = p % side, f = size / side;
    float s[3] = {0.0f, 0.0f, 0.0f};
    for (int a = 0; a < f; a++) {
        __global const uchar *row = rgb + (((size_t)b * size + (size_t)i * f + a) * size + (size_t)j * f) * 3;
        for (int e = 0; e < f; e++)
            for (int c = 0; c < 3; c++) s[c] += (float)row[e * 3 + c];
    }
    /* the recipe divides the block mean by 255: the same order of operations */
    for (int c = 0; c < 3; c++) x[(size_t)p * 3 + c] = s[c] / (float)(f * f) / 255.0f;
}

/* y[b][i][j][c] = max over the 2x2 block of ReLU(x[b][2i .. 2i+1][2j .. 2j+1][c]) (ReLU then max-pool, as
 * max(ReLU(.)) = ReLU(max(.))). x: [B][H][W][C], y: [B][H/2][W/2][C] (H, W even). Global (B * H/2 * W/2 * C). */
__kernel void relu_maxpool2(__global const float *x, __global float *y, int B, int H, int W, int C)
{
    int h = H / 2, w = W / 2;
    size_t i = get_global_id(0);
    if (i >= (size_t)B * h * w * C) return;
    int c = i % C;
    size_t q = i / C;
    int oj = q % w, oi = q / w % h, b = q / ((size_t)w * h);
    __global const float *p = x + (((size_t)b * H + 2 * oi) * W + 2 * oj) * C + c;
    float m = fmax(fmax(p[0], p[C]), fmax(p[(size_t)W * C], p[(size_t)W * C + C]));
    y[i] = fmax(m, 0.0f);
}

/* y[b][c] = mean over the P pixels of x[b][p][c]: global average pooling. x: [B][P][C], y: [B][C].
 * Global (B * C). */
__kernel void mean_pixels(__global const float *x, __global float *y, int B, int P, int C)
{
    int i = get_global_id(0);
    if (i >= B * C) return;
    int b = i / C, c = i % C;
    float s = 0.0f;
    for (int p = 0; p < P; p++) s += x[((size_t)b * P + p) * C + c];
    y[i] = s / (float)P;
}
