#define _GNU_SOURCE
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

kg_err kg_fd_read(int fd, size_t max, uint8_t **buf, size_t *len)
{
	kg_err rc;
	uint8_t *b = NULL;
	size_t got = 0;

	*buf = NULL;
	*len = 0;
	KG_ENSURE((b = malloc(max + 1)) != NULL, KG_ERR_NOMEM);
	for (;;) {
		ssize_t r = read(fd, b + got, max + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		KG_ENSURE_OUT(r >= 0, KG_ERR_IO);
		if (r == 0)
			break;
		got += (size_t)r;
		KG_ENSURE_OUT(got <= max, KG_ERR_TOO_LARGE);
	}
	b[got] = 0;
	*buf = b;
	*len = got;
	return KG_OK;
out:
	free(b);
	return rc;
}

kg_err kg_file_read(const char *path, size_t max, uint8_t **buf, size_t *len)
{
	kg_err rc = KG_ERR_IO;
	struct stat st;
	int fd;

	*buf = NULL;
	*len = 0;
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return KG_ERR_IO;
	KG_ENSURE_OUT(fstat(fd, &st) == 0, KG_ERR_IO);
	/* Pipes and character devices report size 0: read them up to max. */
	KG_ENSURE_OUT(!S_ISREG(st.st_mode) || (uint64_t)st.st_size <= max, KG_ERR_TOO_LARGE);
	rc = kg_fd_read(fd, max, buf, len);
out:
	close(fd);
	return rc;
}

kg_err kg_file_write(const char *path, const void *buf, size_t len, unsigned mode)
{
	char tmp[PATH_MAX];
	const uint8_t *p = buf;
	int fd;

	KG_ENSURE((size_t)snprintf(tmp, sizeof tmp, "%s.tmp.XXXXXX", path) < sizeof tmp, KG_ERR_INVALID_ARG);
	/* mkstemp: O_EXCL, never follows a planted link, mode 0600 until
	 * fchmod, so no one else can open the file while it fills. */
	if ((fd = mkstemp(tmp)) < 0)
		return KG_ERR_IO;
	if (fchmod(fd, mode) != 0)
		goto fail;
	while (len > 0) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			goto fail;
		p += w;
		len -= (size_t)w;
	}
	if (fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0 || rename(tmp, path) != 0) {
		unlink(tmp);
		return KG_ERR_IO;
	}
	return KG_OK;
fail:
	close(fd);
	unlink(tmp);
	return KG_ERR_IO;
}

void kg_hex(char *out, const uint8_t *in, size_t n)
{
	sodium_bin2hex(out, 2 * n + 1, in, n);
}

kg_err kg_unhex(uint8_t *out, size_t n, const char *hex)
{
	size_t got = 0;
	const char *end = NULL;

	KG_ENSURE(hex && strlen(hex) == 2 * n, KG_ERR_INVALID_ARG);
	KG_ENSURE(sodium_hex2bin(out, n, hex, 2 * n, NULL, &got, &end) == 0 && got == n && *end == 0,
		  KG_ERR_INVALID_ARG);
	return KG_OK;
}

void kg_uuid_str(char out[static 37], const uint8_t u[static 16])
{
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", u[0], u[1], u[2],
		 u[3], u[4], u[5], u[6], u[7], u[8], u[9], u[10], u[11], u[12], u[13], u[14], u[15]);
}

void kg_wipe(void *p, size_t n)
{
	if (p)
		sodium_memzero(p, n);
}

kg_err kg_time_parse(const char *s, time_t *out)
{
	struct tm tm;
	char *end;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (end && *end == 0) {
		*out = timegm(&tm);
		return KG_OK;
	}
	errno = 0;
	long long v = strtoll(s, &end, 10);
	KG_ENSURE(errno == 0 && end != s && *end == 0 && v >= 0, KG_ERR_INVALID_ARG);
	*out = (time_t)v;
	return KG_OK;
}

uint64_t kg_mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}
