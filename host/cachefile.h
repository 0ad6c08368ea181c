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
#include <stdint.h>
#include <stdio.h>

#include "runtime.h"

#define VCF_VERSION 1

enum { VCF_ABSENT = 0, VCF_OK = 1, VCF_DAMAGED = 2 };

/* Reads `path` and checks its frame (version, kind, length, checksum). VCF_OK: *data is the payload (malloc'd, with
 * a NUL byte after its *len bytes). VCF_ABSENT: no file. VCF_DAMAGED: the frame does not match (why: one line,
 * e.g. "cut short: 100 of 31822 payload bytes"); the caller rebuilds what the file held and rewrites it. */
int vcf_read(const char *path, const char *kind, void **data, size_t *len, char *why, size_t why_len);

/* Writes the payload in its frame, atomically (temporary file + rename; the directory is created if needed).
 * 0, or VARCL_E_RUNTIME naming the path (the temporary is removed). */
int vcf_write(const char *path, const char *kind, const void *data, size_t len);

/* A framed text file (the per-device tuning files): reads it and hands the payload to parse(f, ctx, why, n) as a
 * stream whose line 2 is the file's line 2 (line 1 is the frame). A file absent, cut short or damaged is not parsed
 * (*found = 0: the caller goes on without it). 0; VARCL_E_INPUT when parse returns non-zero, with "<what> <path>:
 * <why>; delete the file or rerun `vbench --tune`" recorded; VARCL_E_RUNTIME when out of host memory. */
int vcf_parse_text(const char *path, const char *kind, const char *what,
                   int (*parse)(FILE *f, void *ctx, char *why, size_t n), void *ctx, int *found);

/* For parse callbacks: the next line of the stream that is not blank or a comment ('#' or ';'), trimmed, in *s;
 * *line_no counts every line. 1: a line; 0: the end; -1: a line longer than the buffer ("line N: longer than ..."
 * in why). */
int vcf_next_line(FILE *f, char *buf, size_t size, int *line_no, char **s, char *why, size_t n);

/* FNV-1a over n bytes, continuing from h (start: VCF_FNV_SEED): the names of varcl's cache files (program
 * binaries, per-device files, weight files). Not a checksum: each file's contents are checked otherwise. */
#define VCF_FNV_SEED 0xcbf29ce484222325ULL
uint64_t vcf_fnv1a(uint64_t h, const void *p, size_t n);

/* The path of a per-device file in varcl's cache: "<cache dir>/<prefix>-<16 hex digits>.ini", the digits a hash of
 * the device's name, driver version and platform version (a new driver gets a new file). "" when the cache is off. */
void vcf_device_path(const vr_device *dev, const char *prefix, char *buf, size_t n);

/* Cuts leading and trailing white space (in place); returns the first non-space character. */
char *vcf_trim(char *s);

/* For the text per-device files: checks a "device", "driver" or "platform" line against the device (values trimmed).
 * -1: key is none of them; 0: it matches (seen[0..2] set for device, driver, platform); 1: it does not (why says
 * for what it was written). */
int vcf_device_line(const char *key, const char *val, const vr_device *dev, int seen[3], char *why, size_t n);

#endif
