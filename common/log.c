#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

/* Set once at start-up, before threads exist. */
static enum kg_log_level kg_log_min = KG_LOG_INFO;

void kg_log_set_level(enum kg_log_level min) { kg_log_min = min; }

static void put_json_string(char *out, size_t cap, size_t *n, const char *s)
{
	static const char hexd[] = "0123456789abcdef";
#define PUT(ch)                          \
	do {                             \
		if (*n + 1 < cap)        \
			out[(*n)++] = (ch); \
	} while (0)
	PUT('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT((char)c);
		} else if (c < 0x20) {
			PUT('\\');
			PUT('u');
			PUT('0');
			PUT('0');
			PUT(hexd[c >> 4]);
			PUT(hexd[c & 15]);
		} else {
			PUT((char)c);
		}
	}
	PUT('"');
#undef PUT
}

void kg_log(enum kg_log_level level, const char *event, ...)
{
	static const char *names[] = {"debug", "info", "warn", "error"};
	char line[4096];
	size_t n = 0;
	char ts[32];
	struct timespec now;
	struct tm tm;
	va_list ap;

	if (level < kg_log_min)
		return;
	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	n = (size_t)snprintf(line, sizeof line, "{\"ts\":\"%s.%03ldZ\",\"level\":\"%s\",\"event\":", ts,
			     now.tv_nsec / 1000000, names[level]);
	put_json_string(line, sizeof line - 4, &n, event);
	va_start(ap, event);
	for (;;) {
		const char *k = va_arg(ap, const char *), *v;
		if (!k)
			break;
		v = va_arg(ap, const char *);
		if (n + 1 < sizeof line - 4)
			line[n++] = ',';
		put_json_string(line, sizeof line - 4, &n, k);
		if (n + 1 < sizeof line - 4)
			line[n++] = ':';
		put_json_string(line, sizeof line - 4, &n, v ? v : "");
	}
	va_end(ap);
	line[n++] = '}';
	line[n++] = '\n';
	fwrite(line, 1, n, stderr);
}
