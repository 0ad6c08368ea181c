/* cachefile: the frame around every file varcl caches (compiled program binaries, GEMM tuning files), so that a
 * file cut short by a full disk, a copy or a kill, or damaged in any other way, is found before it is used: a
 * driver handed a truncated program binary may crash (pocl: SIGSEGV or an assertion), and a damaged tuning file
 * would be a puzzle. The frame is one text line before the payload, so a text payload stays readable:
 *
 *   # varcl-cache <format version> <kind> <payload bytes> <crc32 of the payload, 8 hex digits>\n
 *
 * crc32 is zlib's. Files are written to a temporary name in the same directory and renamed. */
#ifndef VARCL_CACHEFILE_H
#define VARCL_CACHEFILE_H

#include <stddef.h>

#define VCF_VERSION 1

enum { VCF_ABSENT = 0, VCF_OK = 1, VCF_DAMAGED = 2 };

/* Reads `path` and checks its frame (version, kind, length, checksum). VCF_OK: *data is the payload (malloc'd, with
 * a NUL byte after its *len bytes). VCF_ABSENT: no file. VCF_DAMAGED: the frame does not match (why: one line,
 * e.g. "cut short: 100 of 31822 payload bytes"); the caller rebuilds what the file held and rewrites it. */
int vcf_read(const char *path, const char *kind, void **data, size_t *len, char *why, size_t why_len);

/* Writes the payload in its frame, atomically (temporary file + rename; the directory is created if needed).
 * 0, or VARCL_E_RUNTIME naming the path (the temporary is removed). */
int vcf_write(const char *path, const char *kind, const void *data, size_t len);

#endif
