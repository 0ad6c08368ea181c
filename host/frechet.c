/* frechet: Frechet distance of two Gaussians through LAPACK's symmetric eigensolver (see frechet.h). */
#include "frechet.h"

#include "error.h"

#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int vfd_moments(const float *x, int n, int d, double *mu, double *cov)
{
    if (n < 2 || d < 1) return varcl_fail(VARCL_E_INPUT, "feature statistics need at least 2 vectors, got %d", n);
    for (int j = 0; j < d; j++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += x[(size_t)i * d + j];
        mu[j] = s / n;
    }
    /* two passes (centred products): no cancellation between E[xy] and E[x]E[y] */
    for (int a = 0; a < d; a++)
        for (int b = a; b < d; b++) {
            double s = 0;
            for (int i = 0; i < n; i++) s += (x[(size_t)i * d + a] - mu[a]) * (x[(size_t)i * d + b] - mu[b]);
            cov[(size_t)a * d + b] = cov[(size_t)b * d + a] = s / (n - 1);
        }
    return 0;
}

/* Eigenvalues w [d] (ascending) of the symmetric a [d][d]; with vectors, a becomes the eigenvectors in place
 * (column j of the row-major matrix is the vector of w[j]), otherwise a is destroyed. */
static int eig(double *a, double *w, int d, int vectors)
{
    lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, vectors ? 'V' : 'N', 'U', d, a, d, w);
    if (info == 0) return 0;
    return info < 0 ? varcl_fail(VARCL_E_RUNTIME, "internal: LAPACKE_dsyevd argument %d is invalid", (int)-info)
                    : varcl_fail(VARCL_E_RUNTIME, "LAPACK's eigensolver did not converge on a %d x %d covariance", d, d);
}

int vfd_check_covariance(const double *s, int d, const char *what)
{
    for (int i = 0; i < d; i++) {
        double sii = s[(size_t)i * d + i];
        if (sii < 0)
            return varcl_fail(VARCL_E_INPUT, "%s is not a covariance matrix: its diagonal holds %g (a variance below 0)",
                              what, sii);
        for (int j = 0; j < i; j++) {
            double a = s[(size_t)i * d + j], b = s[(size_t)j * d + i], sjj = s[(size_t)j * d + j];
            if (fabs(a - b) > 1e-5 * sqrt(sii * sjj) + 1e-30)
                return varcl_fail(VARCL_E_INPUT, "%s is not a covariance matrix: not symmetric ([%d][%d] = %g, [%d][%d] = %g)",
                                  what, i, j, a, j, i, b);
        }
    }
    size_t dd = (size_t)d * d;
    double *a = malloc(dd * sizeof *a), *w = malloc((size_t)d * sizeof *w);
    int st = a && w ? 0 : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    if (!st) {
        memcpy(a, s, dd * sizeof *a);
        st = eig(a, w, d, 0);
    }
    double big = 0;
    for (int k = 0; !st && k < d; k++) big = fmax(big, fabs(w[k]));
    if (!st && w[0] < -1e-5 * big) /* ascending: w[0] is the least */
        st = varcl_fail(VARCL_E_INPUT, "%s is not a covariance matrix: an eigenvalue of %g (the largest magnitude %g) "
                        "is below 0 beyond rounding", what, w[0], big);
    free(a);
    free(w);
    return st;
}

int vfd_distance(const double *mu1, const double *s1, const double *mu2, const double *s2, int d, double *fd)
{
    if (d < 1) return varcl_fail(VARCL_E_INPUT, "Frechet distance of %d-dimensional features", d);
    size_t dd = (size_t)d * d;
    for (size_t i = 0; i < dd; i++)
        if (!isfinite(s1[i]) || !isfinite(s2[i]) || (i < (size_t)d && (!isfinite(mu1[i]) || !isfinite(mu2[i]))))
            return varcl_fail(VARCL_E_INPUT, "Frechet distance: the feature statistics hold a non-finite value");
    double *v = malloc(dd * sizeof *v), *r = malloc(dd * sizeof *r), *t = malloc(dd * sizeof *t);
    double *w = malloc((size_t)d * sizeof *w);
    int st = v && r && t && w ? 0 : varcl_fail(VARCL_E_RUNTIME, "out of host memory");
    /* r = S1^1/2 = V diag(sqrt(max(w, 0))) V^T */
    if (!st) {
        memcpy(v, s1, dd * sizeof *v);
        st = eig(v, w, d, 1);
    }
    if (!st) {
        for (int k = 0; k < d; k++) w[k] = w[k] > 0 ? sqrt(w[k]) : 0;
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += v[(size_t)i * d + k] * w[k] * v[(size_t)j * d + k];
                r[(size_t)i * d + j] = s;
            }
        /* v = r S2 r, symmetrised (rounding) */
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += r[(size_t)i * d + k] * s2[(size_t)k * d + j];
                t[(size_t)i * d + j] = s;
            }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++) {
                double s = 0;
                for (int k = 0; k < d; k++) s += t[(size_t)i * d + k] * r[(size_t)k * d + j];
                v[(size_t)i * d + j] = s;
            }
        for (int i = 0; i < d; i++)
            for (int j = 0; j < i; j++) v[(size_t)i * d + j] = v[(size_t)j * d + i] = 0.5 * (v[(size_t)i * d + j] + v[(size_t)j * d + i]);
        st = eig(v, w, d, 0);
    }
    if (!st) {
        double sum = 0;
        for (int i = 0; i < d; i++) sum += (mu1[i] - mu2[i]) * (mu1[i] - mu2[i]) + s1[(size_t)i * d + i] + s2[(size_t)i * d + i];
        for (int k = 0; k < d; k++) sum -= 2 * (w[k] > 0 ? sqrt(w[k]) : 0);
        *fd = sum > 0 ? sum : 0;
    }
    free(v);
    free(r);
    free(t);
    free(w);
    return st;
}
