/* frechet: the Frechet distance between two Gaussians fitted to feature vectors, the FD of vbench --quality
 * (the FID's formula, with the demo classifier's features instead of Inception's):
 *
 *   FD = |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1^1/2 S2 S1^1/2)^1/2)
 *
 * S1^1/2 S2 S1^1/2 is symmetric positive semi-definite and has the eigenvalues of S1 S2, so its trace term equals
 * the usual tr((S1 S2)^1/2) without a non-symmetric matrix square root. Both square roots come from LAPACK's
 * symmetric eigensolver (dsyevd, through LAPACKE), in double; eigenvalues below 0 (rounding) count as 0. */
#ifndef VARCL_FRECHET_H
#define VARCL_FRECHET_H

/* Mean mu [d] and unbiased covariance cov [d][d] (divided by n - 1, as numpy.cov) of features x [n][d].
 * Returns 0, or VARCL_E_INPUT when n < 2 or d < 1. */
int vfd_moments(const float *x, int n, int d, double *mu, double *cov);

/* The Frechet distance between (mu1, s1) and (mu2, s2), dimension d, into *fd (>= 0: rounding is clamped).
 * s1, s2: symmetric [d][d]. Returns 0, VARCL_E_INPUT for d < 1 or a non-finite input, VARCL_E_RUNTIME when
 * memory runs out or LAPACK fails to converge. */
int vfd_distance(const double *mu1, const double *s1, const double *mu2, const double *s2, int d, double *fd);

/* Whether s [d][d] can be a covariance: symmetric (|s_ij - s_ji| <= 1e-5 sqrt(s_ii s_jj) + 1e-30) and positive
 * semi-definite (no eigenvalue below -1e-5 of the largest one's magnitude: float rounding of a sample covariance
 * stays far inside that). 0; VARCL_E_INPUT with `what` and the reason (the first asymmetric pair, or the least
 * eigenvalue); VARCL_E_RUNTIME when memory runs out or LAPACK fails. vfd_distance assumes it of both inputs. */
int vfd_check_covariance(const double *s, int d, const char *what);

#endif
