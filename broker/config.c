/* Configuration: defaults, then a file of "key = value" lines, then
 * KEYGATE_* environment variables; command-line flags come last. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../common/util.h"
#include "broker.h"

#define KG_CONFIG_MAX (64 * 1024)

enum kind { STR, UINT };

static const struct {
	const char *key, *env;
	enum kind kind;
	size_t off;
} fields[] = {
#define F(k, kind) {#k, "KEYGATE_" #k, kind, offsetof(struct kg_config, k)}
	F(listen, STR),	      F(db, STR),	       F(tls_cert, STR),      F(tls_key, STR),
	F(challenge_key_file, STR), F(kek_file, STR), F(snp_roots, STR),     F(tdx_roots, STR),     F(replica, STR),
	F(challenge_ttl, UINT), F(threads, UINT),     F(log_level, STR),     F(policy_cache_ttl, UINT),
	F(max_connections, UINT), F(per_ip_connections, UINT), F(snp_require_crl, UINT),
	F(deny_rate, UINT), F(deny_burst, UINT), F(deny_rate_total, UINT), F(kek_legacy_formats, UINT),
	F(metrics_listen, STR),
	F(audit_signing_key, STR), F(audit_seal_interval, UINT), F(gpu_roots, STR), F(gpu_rim_roots, STR),
	F(kek_pkcs11_module, STR), F(kek_pkcs11_token, STR), F(kek_pkcs11_key, STR), F(kek_pkcs11_pin_file, STR),
	F(kek_previous_file, STR), F(kek_previous_pkcs11_module, STR), F(kek_previous_pkcs11_token, STR),
	F(kek_previous_pkcs11_key, STR), F(kek_previous_pkcs11_pin_file, STR),
#undef F
};

kg_err kg_config_set(struct kg_config *cfg, const char *key, const char *value)
{
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		if (strcmp(fields[i].key, key) != 0)
			continue;
		if (fields[i].kind == STR) {
			char **p = (char **)((char *)cfg + fields[i].off);
			char *v = strdup(value);
			KG_ENSURE(v != NULL, KG_ERR_NOMEM);
			free(*p);
			*p = v;
		} else {
			char *end;
			unsigned long v = strtoul(value, &end, 10);
			/* Only the cache TTL may be 0 (no cache). */
			KG_ENSURE(*value && *end == 0 && v <= 100000 &&
					  (v > 0 || strcmp(key, "policy_cache_ttl") == 0 ||
					   strcmp(key, "snp_require_crl") == 0),
				  KG_ERR_CONFIG);
			*(unsigned *)((char *)cfg + fields[i].off) = (unsigned)v;
		}
		return KG_OK;
	}
	return KG_ERR_CONFIG;
}

static char *trim(char *s)
{
	char *e;

	while (isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = 0;
	return s;
}

kg_err kg_config_load(struct kg_config *cfg, const char *path, char *errbuf, size_t errlen)
{
	char host[64] = "keygate";
	uint8_t *buf = NULL;
	size_t len;
	kg_err rc = KG_OK;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);

	memset(cfg, 0, sizeof *cfg);
	gethostname(host, sizeof host - 1);
	KG_ENSURE((cfg->listen = strdup("127.0.0.1:8443")) != NULL, KG_ERR_NOMEM);
	KG_ENSURE((cfg->replica = strdup(host)) != NULL, KG_ERR_NOMEM);
	KG_ENSURE((cfg->log_level = strdup("info")) != NULL, KG_ERR_NOMEM);
	cfg->challenge_ttl = 60;
	cfg->policy_cache_ttl = 60;
	cfg->max_connections = 4096;
	/* CVMs behind one NAT share an address; 64 open handshakes each. */
	cfg->per_ip_connections = 64;
	/* Audited denials per address (broker/ratelimit.h): a CVM that is
	 * refused retries a few times; garbage at line rate is not kept. */
	cfg->deny_rate = 10;
	cfg->deny_burst = 100;
	/* All addresses together, ten seconds' worth in a burst: a fleet
	 * refused at once by a bad policy rollout is still audited. */
	cfg->deny_rate_total = 1000;
	/* Fail closed: without AMD's current CRL a revoked VCEK would pass. */
	cfg->snp_require_crl = 1;
	/* Rows wait at most about this long (ms) before a signed checkpoint covers them. */
	cfg->audit_seal_interval = 1000;
	/* One TLS handshake keeps a core busy; twice the cores covers the
	 * time spent waiting on PostgreSQL. */
	cfg->threads = ncpu > 0 ? (unsigned)ncpu * 2 : 4;

	if (path) {
		int lineno = 0;
		char *line, *save = NULL;
		if (kg_file_read(path, KG_CONFIG_MAX, &buf, &len) != KG_OK) {
			snprintf(errbuf, errlen, "cannot read configuration file %s", path);
			return KG_ERR_CONFIG;
		}
		for (line = strtok_r((char *)buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
			char *eq, *k, *v = NULL;
			lineno++;
			line = trim(line);
			if (*line == 0 || *line == '#')
				continue;
			if ((eq = strchr(line, '=')) != NULL) {
				*eq = 0;
				v = trim(eq + 1);
			}
			k = trim(line);
			if (!v || kg_config_set(cfg, k, v) != KG_OK) {
				snprintf(errbuf, errlen, "%s: line %d: invalid setting '%s'", path, lineno, k);
				rc = KG_ERR_CONFIG;
				break;
			}
		}
		free(buf);
		KG_TRY(rc);
	}
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
		char env[64];
		const char *v;
		size_t j;
		for (j = 0; fields[i].env[j] && j < sizeof env - 1; j++)
			env[j] = (char)toupper((unsigned char)fields[i].env[j]);
		env[j] = 0;
		if ((v = getenv(env)) != NULL && *v && kg_config_set(cfg, fields[i].key, v) != KG_OK) {
			snprintf(errbuf, errlen, "invalid value in environment variable %s", env);
			return KG_ERR_CONFIG;
		}
	}
	return KG_OK;
}

void kg_config_free(struct kg_config *cfg)
{
	for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
		if (fields[i].kind == STR)
			free(*(char **)((char *)cfg + fields[i].off));
	memset(cfg, 0, sizeof *cfg);
}

void kg_config_kek_spec(const struct kg_config *cfg, bool previous, struct kg_kek_spec *out)
{
	out->file = previous ? cfg->kek_previous_file : cfg->kek_file;
	out->pkcs11_module = previous ? cfg->kek_previous_pkcs11_module : cfg->kek_pkcs11_module;
	out->pkcs11_token = previous ? cfg->kek_previous_pkcs11_token : cfg->kek_pkcs11_token;
	out->pkcs11_key = previous ? cfg->kek_previous_pkcs11_key : cfg->kek_pkcs11_key;
	out->pkcs11_pin_file = previous ? cfg->kek_previous_pkcs11_pin_file : cfg->kek_pkcs11_pin_file;
}

kg_err kg_config_open_keks(const struct kg_config *cfg, struct kg_kek **current, struct kg_kek **previous)
{
	struct kg_kek_spec cur, prev;

	*current = *previous = NULL;
	kg_config_kek_spec(cfg, false, &cur);
	kg_config_kek_spec(cfg, true, &prev);
	/* A previous KEK alone would leave nothing to wrap new keys with. */
	KG_ENSURE(kg_kek_spec_set(&cur) || !kg_kek_spec_set(&prev), KG_ERR_CONFIG);
	if (kg_kek_spec_set(&cur))
		KG_TRY(kg_kek_open(&cur, current));
	if (kg_kek_spec_set(&prev)) {
		kg_err e = kg_kek_open(&prev, previous);
		if (e == KG_OK && strcmp(kg_kek_id(*current), kg_kek_id(*previous)) == 0)
			e = KG_ERR_CONFIG; /* the same KEK twice is a mistake */
		if (e != KG_OK) {
			kg_kek_free(*previous);
			kg_kek_free(*current);
			*current = *previous = NULL;
			return e;
		}
	}
	return KG_OK;
}
