/* Small helpers shared by every module: files, hex, time, wiping. */
#ifndef KG_UTIL_H
#define KG_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "err.h"

/* Reads a whole file of at most max bytes into a malloc'd buffer (NUL
 * appended, not counted in *len).  Larger files fail with KG_ERR_TOO_LARGE
 * before anything is allocated for them. */
KG_MUST_CHECK kg_err kg_file_read(const char *path, size_t max, uint8_t **buf, size_t *len);
/* The same from an open descriptor, to its end (it stays open). */
KG_MUST_CHECK kg_err kg_fd_read(int fd, size_t max, uint8_t **buf, size_t *len);
/* Writes a file atomically (temp + rename) with the given mode. */
KG_MUST_CHECK kg_err kg_file_write(const char *path, const void *buf, size_t len, unsigned mode);

/* Lowercase hex of n bytes into out (2n+1 bytes, NUL-terminated). */
void kg_hex(char *out, const uint8_t *in, size_t n);
/* Parses exactly n bytes of hex (upper or lower case, no separators). */
KG_MUST_CHECK kg_err kg_unhex(uint8_t *out, size_t n, const char *hex);

/* The 16 bytes of a UUID in its text form (36 characters + NUL). */
void kg_uuid_str(char out[static 37], const uint8_t u[static 16]);

/* Wipes memory that held a secret; never optimised away. */
void kg_wipe(void *p, size_t n);

/* Parses "2024-05-01T00:00:00Z" or a decimal Unix time. */
KG_MUST_CHECK kg_err kg_time_parse(const char *s, time_t *out);

/* Microseconds on the monotonic clock: for intervals, never dates. */
uint64_t kg_mono_us(void);

#endif
