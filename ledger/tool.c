/* keygate-ledger: run a Keygate ledger (a static tlog-tiles transparency
 * log of acceptable images), publish releases and revocations, cosign as a
 * test witness, produce the bundles CVMs ship, and verify them offline.
 * Data goes to stdout, diagnostics to stderr; exit 0 success, 1 failure
 * or denial, 2 usage error. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <time.h>

#include <sodium.h>

#include "../common/util.h"
#include "internal.h"
#include "log.h"

struct opts {
	const char *origin, *tee, *measurement, *name, *version, *provenance, *reason, *witness_key;
	const char *time, *index, *from, *vkey, *threshold, *max_age, *seen_size, *seen_root, *consistency;
	const char *witnesses[KG_LEDGER_MAX_WITNESSES];
	size_t n_witnesses;
	const char *arg; /* the one positional argument */
};

enum {
	O_ORIGIN = 256, O_TEE, O_MEAS, O_NAME, O_VERSION, O_PROV, O_REASON, O_WKEY, O_TIME, O_INDEX, O_FROM,
	O_VKEY, O_WITNESS, O_THRESHOLD, O_MAXAGE, O_SEENSIZE, O_SEENROOT, O_CONS, O_HELP,
};

static const struct option all_options[] = {
	{"origin", required_argument, 0, O_ORIGIN},
	{"tee", required_argument, 0, O_TEE},
	{"measurement", required_argument, 0, O_MEAS},
	{"name", required_argument, 0, O_NAME},
	{"version", required_argument, 0, O_VERSION},
	{"provenance", required_argument, 0, O_PROV},
	{"reason", required_argument, 0, O_REASON},
	{"witness-key", required_argument, 0, O_WKEY},
	{"time", required_argument, 0, O_TIME},
	{"at", required_argument, 0, O_TIME},
	{"index", required_argument, 0, O_INDEX},
	{"from", required_argument, 0, O_FROM},
	{"vkey", required_argument, 0, O_VKEY},
	{"witness", required_argument, 0, O_WITNESS},
	{"threshold", required_argument, 0, O_THRESHOLD},
	{"max-age", required_argument, 0, O_MAXAGE},
	{"seen-size", required_argument, 0, O_SEENSIZE},
	{"seen-root", required_argument, 0, O_SEENROOT},
	{"consistency", required_argument, 0, O_CONS},
	{"help", no_argument, 0, O_HELP},
	{0, 0, 0, 0},
};

struct command {
	const char *name;
	int (*fn)(const struct opts *);
	const char *usage; /* also lists the options the command accepts */
	const char *help;
};

static int fail(const char *what, kg_err e)
{
	fprintf(stderr, "keygate-ledger: %s: %s (%s)\n", what, kg_err_msg(e), kg_err_code(e));
	return 1;
}

static int parse_u64(const char *s, uint64_t *out)
{
	return s && kg_ltext_u64(kg_cur_init((const uint8_t *)s, strlen(s)), out) == KG_OK;
}

/* --measurement HEX for --tee: exact length, hex. */
static int parse_measurement(const struct opts *o, uint8_t m[static KG_LEDGER_MAX_MEASUREMENT], size_t *mlen)
{
	*mlen = kg_ledger_tee_measurement_len(o->tee);
	if (*mlen == 0) {
		fprintf(stderr, "keygate-ledger: unknown --tee %s (snp, tdx)\n", o->tee);
		return 0;
	}
	if (!o->measurement || strlen(o->measurement) != 2 * *mlen || kg_unhex(m, *mlen, o->measurement) != KG_OK) {
		fprintf(stderr, "keygate-ledger: --measurement must be %zu hex bytes for %s\n", *mlen, o->tee);
		return 0;
	}
	return 1;
}

static int write_out(char *buf, size_t len)
{
	int ok = fwrite(buf, 1, len, stdout) == len && fflush(stdout) == 0;
	free(buf);
	return ok ? 0 : 1;
}

static int cmd_init(const struct opts *o)
{
	char vkey[512];
	kg_err e;

	if (!o->origin)
		return 2;
	if ((e = kg_ledger_log_init(o->arg, o->origin, vkey, sizeof vkey)) != KG_OK)
		return fail("init", e);
	printf("%s\n", vkey);
	return 0;
}

static int copy_field(char *dst, size_t cap, const char *src, const char *flag)
{
	if (src && strlen(src) >= cap) {
		fprintf(stderr, "keygate-ledger: %s is longer than %zu bytes\n", flag, cap - 1);
		return 0;
	}
	snprintf(dst, cap, "%s", src ? src : "");
	return 1;
}

static int add_entry(const struct opts *o, struct kg_ledger_entry *e)
{
	uint64_t index;
	kg_err err;

	if (!copy_field(e->tee, sizeof e->tee, o->tee, "--tee") ||
	    !parse_measurement(o, e->measurement, &e->measurement_len))
		return 2;
	if ((err = kg_ledger_log_add(o->arg, e, &index)) != KG_OK)
		return fail("add", err);
	printf("%" PRIu64 "\n", index);
	fprintf(stderr, "keygate-ledger: queued as entry %" PRIu64 "; run 'keygate-ledger checkpoint %s' to publish\n",
		index, o->arg);
	return 0;
}

static int cmd_add(const struct opts *o)
{
	struct kg_ledger_entry e;

	memset(&e, 0, sizeof e);
	e.kind = KG_LEDGER_RELEASE;
	if (!o->measurement || !o->name || !o->version)
		return 2;
	if (!copy_field(e.name, sizeof e.name, o->name, "--name") ||
	    !copy_field(e.version, sizeof e.version, o->version, "--version") ||
	    !copy_field(e.provenance, sizeof e.provenance, o->provenance, "--provenance"))
		return 2;
	return add_entry(o, &e);
}

static int cmd_revoke(const struct opts *o)
{
	struct kg_ledger_entry e;

	memset(&e, 0, sizeof e);
	e.kind = KG_LEDGER_REVOKE;
	if (!o->measurement)
		return 2;
	if (!copy_field(e.reason, sizeof e.reason, o->reason, "--reason"))
		return 2;
	return add_entry(o, &e);
}

static int cmd_checkpoint(const struct opts *o)
{
	uint64_t size;
	kg_err e;

	if ((e = kg_ledger_log_checkpoint(o->arg, &size)) != KG_OK)
		return fail("checkpoint", e);
	printf("%" PRIu64 "\n", size);
	return 0;
}

static int cmd_witness_init(const struct opts *o)
{
	char vkey[512];
	kg_err e;

	if (!o->name)
		return 2;
	if ((e = kg_ledger_witness_init(o->arg, o->name, vkey, sizeof vkey)) != KG_OK)
		return fail("witness-init", e);
	printf("%s\n", vkey);
	return 0;
}

static int cmd_cosign(const struct opts *o)
{
	time_t t = time(NULL);
	kg_err e;

	if (!o->witness_key)
		return 2;
	if (o->time && kg_time_parse(o->time, &t) != KG_OK) {
		fprintf(stderr, "keygate-ledger: bad --time %s\n", o->time);
		return 2;
	}
	if (t < 0)
		return 2;
	if ((e = kg_ledger_log_cosign(o->arg, o->witness_key, (uint64_t)t)) != KG_OK)
		return fail("cosign", e);
	return 0;
}

static int cmd_bundle(const struct opts *o)
{
	uint8_t m[KG_LEDGER_MAX_MEASUREMENT];
	size_t mlen, len;
	char *out;
	bool revoked;
	kg_err e;

	if (!parse_measurement(o, m, &mlen))
		return 2;
	if ((e = kg_ledger_log_bundle(o->arg, o->tee, m, mlen, &out, &len, &revoked)) != KG_OK)
		return fail("bundle", e);
	if (revoked)
		fprintf(stderr, "keygate-ledger: warning: a later entry revokes this measurement\n");
	return write_out(out, len);
}

static int cmd_proof(const struct opts *o)
{
	uint64_t index;
	size_t len;
	char *out;
	kg_err e;

	if (!parse_u64(o->index, &index))
		return 2;
	if ((e = kg_ledger_log_proof(o->arg, index, &out, &len)) != KG_OK)
		return fail("proof", e);
	return write_out(out, len);
}

static int cmd_consistency(const struct opts *o)
{
	uint64_t from;
	size_t len;
	char *out;
	kg_err e;

	if (!parse_u64(o->from, &from))
		return 2;
	if ((e = kg_ledger_log_consistency(o->arg, from, &out, &len)) != KG_OK)
		return fail("consistency", e);
	return write_out(out, len);
}

static int cmd_revoked(const struct opts *o)
{
	size_t len;
	char *out;
	kg_err e;

	if ((e = kg_ledger_log_revoked(o->arg, &out, &len)) != KG_OK)
		return fail("revoked", e);
	return write_out(out, len);
}

/* One JSON line: the verdict, or {"error": code}.  Entry fields have no
 * '"', '\\' or control characters (bundle.c), so they print as they are. */
static void print_verdict(kg_err e, const struct kg_ledger_verdict *v)
{
	char hex[2 * KG_LEDGER_MAX_MEASUREMENT + 1];
	char root[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	if (e != KG_OK && e != KG_ERR_LEDGER_REVOKED) {
		printf("{\"error\":\"%s\",\"message\":\"%s\"}\n", kg_err_code(e), kg_err_msg(e));
		return;
	}
	kg_hex(hex, v->entry.measurement, v->entry.measurement_len);
	sodium_bin2base64(root, sizeof root, v->root, 32, sodium_base64_VARIANT_ORIGINAL);
	printf("{%s\"kind\":\"%s\",\"tee\":\"%s\",\"measurement\":\"%s\",\"name\":\"%s\",\"version\":\"%s\","
	       "\"provenance\":\"%s\",\"reason\":\"%s\",\"index\":%" PRIu64 ",\"size\":%" PRIu64 ",\"root\":\"%s\","
	       "\"checkpoint_time\":%" PRIu64 ",\"witnesses\":%zu,\"update_seen\":%s}\n",
	       e == KG_OK ? "" : "\"error\":\"ledger_revoked\",",
	       v->entry.kind == KG_LEDGER_RELEASE ? "release" : "revoke", v->entry.tee, hex, v->entry.name,
	       v->entry.version, v->entry.provenance, v->entry.reason, v->index, v->size, root, v->checkpoint_time,
	       v->witnesses, v->update_seen ? "true" : "false");
}

static int cmd_verify(const struct opts *o)
{
	struct kg_ledger_trust *t = NULL;
	struct kg_ledger_consistency *cons = NULL;
	struct kg_ledger_verdict v;
	uint8_t *bundle = NULL, *cbuf = NULL, m[KG_LEDGER_MAX_MEASUREMENT];
	size_t blen = 0, clen = 0, mlen = 0;
	time_t now = time(NULL);
	uint64_t x;
	kg_err e;
	int rc = 2;

	if (!o->vkey || !(t = calloc(1, sizeof *t)) || !(cons = calloc(1, sizeof *cons)))
		goto out;
	if (kg_ledger_vkey_parse(o->vkey, &t->log_key) != KG_OK || t->log_key.type != KG_LEDGER_SIG_ED25519) {
		fprintf(stderr, "keygate-ledger: --vkey is not an Ed25519 (type 0x01) verifier key\n");
		goto out;
	}
	/* The origin defaults to the log key's name, as keygate-ledger names
	 * its keys. */
	if (!copy_field(t->origin, sizeof t->origin, o->origin ? o->origin : t->log_key.name, "--origin"))
		goto out;
	for (size_t i = 0; i < o->n_witnesses; i++) {
		if (kg_ledger_vkey_parse(o->witnesses[i], &t->witnesses[i]) != KG_OK ||
		    t->witnesses[i].type != KG_LEDGER_SIG_COSIGN_V1) {
			fprintf(stderr, "keygate-ledger: --witness %s is not a cosignature (type 0x04) key\n",
				o->witnesses[i]);
			goto out;
		}
	}
	t->n_witnesses = o->n_witnesses;
	t->witness_threshold = o->n_witnesses;
	if (o->threshold && (!parse_u64(o->threshold, &x) || x > o->n_witnesses))
		goto out;
	if (o->threshold)
		t->witness_threshold = (size_t)x;
	if (o->max_age && !parse_u64(o->max_age, &t->max_age))
		goto out;
	if (o->seen_size && !parse_u64(o->seen_size, &t->seen_size))
		goto out;
	if (!!o->seen_size != !!o->seen_root)
		goto out;
	if (o->seen_root && (kg_ltext_hash(kg_cur_init((const uint8_t *)o->seen_root, strlen(o->seen_root)),
					   t->seen_root) != KG_OK))
		goto out;
	if (o->time && kg_time_parse(o->time, &now) != KG_OK)
		goto out;
	if (o->measurement && !parse_measurement(o, m, &mlen))
		goto out;
	rc = 1;
	if ((e = kg_file_read(o->arg, KG_LEDGER_MAX_BUNDLE, &bundle, &blen)) != KG_OK) {
		rc = fail(o->arg, e);
		goto out;
	}
	if (o->consistency) {
		if ((e = kg_file_read(o->consistency, 8192, &cbuf, &clen)) != KG_OK ||
		    (e = kg_ledger_consistency_parse(cbuf, clen, cons)) != KG_OK) {
			rc = fail(o->consistency, e);
			goto out;
		}
	}
	e = kg_ledger_verify_bundle(t, bundle, blen, o->consistency ? cons : NULL, now, &v);
	if (e == KG_OK && o->measurement)
		e = kg_ledger_match(&v, o->tee, m, mlen);
	print_verdict(e, &v);
	if (e != KG_OK)
		fprintf(stderr, "keygate-ledger: verify: %s (%s)\n", kg_err_msg(e), kg_err_code(e));
	rc = e == KG_OK ? 0 : 1;
out:
	if (rc == 2)
		fprintf(stderr, "keygate-ledger: verify: bad arguments (see --help)\n");
	free(t);
	free(cons);
	free(bundle);
	free(cbuf);
	return rc;
}

static const struct command commands[] = {
	{"init", cmd_init, "init DIR --origin ORIGIN", "create a ledger; prints its verifier key"},
	{"add", cmd_add,
	 "add DIR --tee snp|tdx --measurement HEX --name NAME --version VERSION [--provenance URL]",
	 "queue a release entry; prints its index"},
	{"revoke", cmd_revoke, "revoke DIR --tee snp|tdx --measurement HEX [--reason TEXT]",
	 "queue a revoke entry for an earlier measurement"},
	{"checkpoint", cmd_checkpoint, "checkpoint DIR", "publish queued entries: tiles and a signed checkpoint"},
	{"witness-init", cmd_witness_init, "witness-init FILE --name NAME",
	 "make a test witness key (tlog-cosignature); prints its verifier key"},
	{"cosign", cmd_cosign, "cosign DIR --witness-key FILE [--time TIME]",
	 "add a witness cosignature to the current checkpoint"},
	{"bundle", cmd_bundle, "bundle DIR --measurement HEX [--tee snp|tdx]",
	 "print the bundle for the latest release of a measurement"},
	{"proof", cmd_proof, "proof DIR --index N", "print the bundle for entry N"},
	{"consistency", cmd_consistency, "consistency DIR --from SIZE",
	 "print a consistency proof from tree size SIZE to the checkpoint"},
	{"revoked", cmd_revoked, "revoked DIR", "print the revoked measurements (tee hex)"},
	{"verify", cmd_verify,
	 "verify BUNDLE --vkey VKEY [--origin ORIGIN] [--witness VKEY]... [--threshold K] [--max-age SECONDS]\n"
	 "       [--seen-size N --seen-root BASE64] [--consistency FILE] [--tee T --measurement HEX] [--at TIME]",
	 "verify a bundle offline as the broker does; prints the verdict as JSON"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate-ledger COMMAND ARGS\n\ncommands:\n");
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(f, "  %-13s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\n'keygate-ledger COMMAND --help' describes each; docs/ledger.md has the formats.\n"
		   "Exit codes: 0 success, 1 failure or denial, 2 usage error.\n");
}

/* Whether the command's usage line names this option. */
static int accepts(const struct command *c, const char *opt)
{
	char flag[64];

	snprintf(flag, sizeof flag, "--%s ", opt);
	if (strstr(c->usage, flag))
		return 1;
	snprintf(flag, sizeof flag, "--%s]", opt);
	return strstr(c->usage, flag) != NULL || (strcmp(opt, "time") == 0 && strstr(c->usage, "--at "));
}

static int run(const struct command *c, int argc, char **argv)
{
	struct opts o;
	int ch, idx;

	memset(&o, 0, sizeof o);
	o.tee = "snp";
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", all_options, &idx)) != -1) {
		if (ch == 'h' || ch == O_HELP) {
			printf("usage: keygate-ledger %s\n\n%s\n", c->usage, c->help);
			return 0;
		}
		if (ch == '?' || !accepts(c, all_options[idx].name)) {
			if (ch != '?')
				fprintf(stderr, "keygate-ledger: %s does not take --%s\n", c->name,
					all_options[idx].name);
			goto usage;
		}
		switch (ch) {
		case O_ORIGIN: o.origin = optarg; break;
		case O_TEE: o.tee = optarg; break;
		case O_MEAS: o.measurement = optarg; break;
		case O_NAME: o.name = optarg; break;
		case O_VERSION: o.version = optarg; break;
		case O_PROV: o.provenance = optarg; break;
		case O_REASON: o.reason = optarg; break;
		case O_WKEY: o.witness_key = optarg; break;
		case O_TIME: o.time = optarg; break;
		case O_INDEX: o.index = optarg; break;
		case O_FROM: o.from = optarg; break;
		case O_VKEY: o.vkey = optarg; break;
		case O_THRESHOLD: o.threshold = optarg; break;
		case O_MAXAGE: o.max_age = optarg; break;
		case O_SEENSIZE: o.seen_size = optarg; break;
		case O_SEENROOT: o.seen_root = optarg; break;
		case O_CONS: o.consistency = optarg; break;
		case O_WITNESS:
			if (o.n_witnesses == KG_LEDGER_MAX_WITNESSES)
				goto usage;
			o.witnesses[o.n_witnesses++] = optarg;
			break;
		default: goto usage;
		}
	}
	if (optind != argc - 1)
		goto usage;
	o.arg = argv[optind];
	{
		int rc = c->fn(&o);
		if (rc != 2)
			return rc;
	}
usage:
	fprintf(stderr, "usage: keygate-ledger %s\n", c->usage);
	return 2;
}

int main(int argc, char **argv)
{
	struct rlimit rl = {0, 0};

	/* It holds private keys: no core dumps, no ptrace by others. */
	setrlimit(RLIMIT_CORE, &rl);
	prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (sodium_init() < 0) {
		fprintf(stderr, "keygate-ledger: libsodium failed to initialise\n");
		return 1;
	}
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
		if (strcmp(argv[1], commands[i].name) == 0)
			return run(&commands[i], argc - 1, argv + 1);
	fprintf(stderr, "keygate-ledger: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
