/* `keygate ledger`: check a bundle offline, and bring a ledger's
 * checkpoint and revocations into PostgreSQL from a mirror of its files. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>
#include <libpq-fe.h>

#include "../common/util.h"
#include "../ledger/log.h"
#include "broker.h"

static void usage(FILE *f)
{
	fprintf(f, "usage: keygate ledger verify BUNDLE (--key VKEY | --ledger ID [--db DSN]) [--measurement HEX [--tee T]]\n"
		   "                             [--consistency FILE] [--at TIME]\n"
		   "       keygate ledger sync --ledger ID --dir DIR [--db DSN]\n\n"
		   "verify: checks a ledger bundle (docs/ledger.md) against a log verifier key, or against a ledger\n"
		   "        configured in PostgreSQL (its witnesses, age limit, seen checkpoint and revocations),\n"
		   "        and prints the verdict and the entry as JSON (exit 0) or the reason code (exit 1).\n"
		   "sync:   reads DIR, a copy of the ledger's static files, verifies its checkpoint (signature,\n"
		   "        witnesses, consistency with the checkpoint the brokers have seen), advances that\n"
		   "        checkpoint and imports the ledger's revocations.  Run it from cron; brokers never\n"
		   "        fetch anything themselves.\n");
}

static int fail(kg_err e)
{
	printf("{\"verified\":false,\"error\":\"%s\",\"message\":\"%s\"}\n", kg_err_code(e), kg_err_msg(e));
	fprintf(stderr, "keygate ledger: %s\n", kg_err_code(e));
	return 1;
}

/* The trust for ledger id from the database, with its revocations. */
static kg_err load_trust(PGconn *c, const char *id, struct kg_key_ledger *out)
{
	struct kg_key_record rec;
	struct kg_policy pol;
	kg_err rc;

	memset(&rec, 0, sizeof rec);
	memset(&pol, 0, sizeof pol);
	pol.has_ledger = true;
	snprintf(pol.ledger_id, sizeof pol.ledger_id, "%s", id);
	rec.policies = &pol;
	rec.n_policies = 1;
	rc = kg_store_ledgers(c, &rec);
	if (rc == KG_OK && rec.n_ledgers != 1)
		rc = KG_ERR_LEDGER_UNKNOWN_ORIGIN;
	if (rc == KG_OK)
		*out = rec.ledgers[0], rec.ledgers[0].revoked = NULL;
	for (size_t i = 0; i < rec.n_ledgers; i++)
		free(rec.ledgers[i].revoked);
	free(rec.ledgers);
	return rc;
}

static void print_verdict(const struct kg_ledger_verdict *v, kg_err result)
{
	char m[2 * KG_LEDGER_MAX_MEASUREMENT + 1], root[65];
	json_t *o;
	char *s;

	kg_hex(m, v->entry.measurement, v->entry.measurement_len);
	kg_hex(root, v->root, 32);
	o = json_pack("{s:b,s:s,s:{s:s,s:s,s:s,s:s,s:s,s:s,s:s},s:I,s:I,s:s,s:I,s:I}", "verified", result == KG_OK,
		      "result", kg_err_code(result), "entry", "kind", v->entry.kind == KG_LEDGER_REVOKE ? "revoke" : "release",
		      "tee", v->entry.tee, "measurement", m, "name", v->entry.name, "version", v->entry.version,
		      "provenance", v->entry.provenance, "reason", v->entry.reason, "index", (json_int_t)v->index,
		      "checkpoint_size", (json_int_t)v->size, "checkpoint_root", root, "checkpoint_time",
		      (json_int_t)v->checkpoint_time, "witnesses", (json_int_t)v->witnesses);
	if (o && (s = json_dumps(o, JSON_INDENT(2) | JSON_PRESERVE_ORDER)) != NULL) {
		printf("%s\n", s);
		free(s);
	}
	json_decref(o);
}

static int cmd_verify(int argc, char **argv)
{
	static const struct option opts[] = {
		{"key", required_argument, NULL, 'k'},	     {"ledger", required_argument, NULL, 'l'},
		{"db", required_argument, NULL, 'd'},	     {"measurement", required_argument, NULL, 'm'},
		{"tee", required_argument, NULL, 't'},	     {"consistency", required_argument, NULL, 'c'},
		{"at", required_argument, NULL, 'a'},	     {"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0}};
	const char *key = NULL, *ledger = NULL, *db = getenv("KEYGATE_DB"), *mhex = NULL, *tee = "snp", *cfile = NULL;
	struct kg_key_ledger l;
	struct kg_ledger_verdict v;
	struct kg_ledger_consistency cons, *consp = NULL;
	uint8_t *bundle = NULL, *cbuf = NULL, m[KG_LEDGER_MAX_MEASUREMENT];
	size_t blen = 0, clen = 0, mlen = 0;
	time_t now = time(NULL);
	PGconn *c = NULL;
	int ch, ret = 1;
	kg_err e;

	memset(&l, 0, sizeof l);
	while ((ch = getopt_long(argc, argv, "k:l:d:m:t:c:a:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'k': key = optarg; break;
		case 'l': ledger = optarg; break;
		case 'd': db = optarg; break;
		case 'm': mhex = optarg; break;
		case 't': tee = optarg; break;
		case 'c': cfile = optarg; break;
		case 'a':
			if (kg_time_parse(optarg, &now) != KG_OK)
				return 2;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind + 1 != argc || !!key == !!ledger) {
		usage(stderr);
		return 2;
	}
	if (mhex) {
		mlen = strlen(mhex) / 2;
		if (mlen == 0 || mlen > sizeof m || kg_unhex(m, mlen, mhex) != KG_OK) {
			fprintf(stderr, "keygate ledger verify: bad --measurement\n");
			return 2;
		}
	}
	if (kg_file_read(argv[optind], KG_LEDGER_MAX_BUNDLE, &bundle, &blen) != KG_OK ||
	    (cfile && kg_file_read(cfile, KG_LEDGER_TEXT_MAX, &cbuf, &clen) != KG_OK)) {
		fprintf(stderr, "keygate ledger verify: cannot read the bundle or consistency file\n");
		ret = 2;
		goto out;
	}
	if (key) {
		if ((e = kg_ledger_vkey_parse(key, &l.trust.log_key)) != KG_OK) {
			fprintf(stderr, "keygate ledger verify: bad --key\n");
			ret = 2;
			goto out;
		}
		/* A bare key: the origin is the key's name, as C2SP recommends. */
		snprintf(l.trust.origin, sizeof l.trust.origin, "%s", l.trust.log_key.name);
	} else {
		c = PQconnectdb(db ? db : "");
		if (PQstatus(c) != CONNECTION_OK) {
			fprintf(stderr, "keygate ledger verify: %s", PQerrorMessage(c));
			ret = 2;
			goto out;
		}
		if ((e = load_trust(c, ledger, &l)) != KG_OK) {
			ret = fail(e);
			goto out;
		}
	}
	if (cbuf) {
		if ((e = kg_ledger_consistency_parse(cbuf, clen, &cons)) != KG_OK) {
			ret = fail(e);
			goto out;
		}
		consp = &cons;
	}
	e = kg_ledger_verify_bundle(&l.trust, bundle, blen, consp, now, &v);
	if (e == KG_OK && mhex)
		e = kg_ledger_match(&v, tee, m, mlen);
	if (e == KG_OK)
		e = kg_ledger_check_revoked(l.revoked, l.n_revoked, &v.entry);
	if (e != KG_OK && e != KG_ERR_LEDGER_REVOKED) {
		ret = fail(e);
		goto out;
	}
	print_verdict(&v, e);
	ret = e == KG_OK ? 0 : 1;
out:
	if (c)
		PQfinish(c);
	free(l.revoked);
	free(bundle);
	free(cbuf);
	return ret;
}

static int cmd_sync(int argc, char **argv)
{
	static const struct option opts[] = {{"ledger", required_argument, NULL, 'l'},
					     {"dir", required_argument, NULL, 'D'},
					     {"db", required_argument, NULL, 'd'},
					     {"help", no_argument, NULL, 'h'},
					     {NULL, 0, NULL, 0}};
	const char *ledger = NULL, *dir = NULL, *db = getenv("KEYGATE_DB");
	struct kg_key_ledger l;
	struct kg_ledger_verdict v;
	struct kg_ledger_consistency cons, *consp = NULL;
	char *bundle = NULL, *cproof = NULL, *revoked = NULL;
	size_t blen, clen, rlen, imported = 0;
	PGconn *c = NULL;
	int ch, ret = 1;
	kg_err e;

	memset(&l, 0, sizeof l);
	while ((ch = getopt_long(argc, argv, "l:D:d:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'l': ledger = optarg; break;
		case 'D': dir = optarg; break;
		case 'd': db = optarg; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc || !ledger || !dir) {
		usage(stderr);
		return 2;
	}
	c = PQconnectdb(db ? db : "");
	if (PQstatus(c) != CONNECTION_OK) {
		fprintf(stderr, "keygate ledger sync: %s", PQerrorMessage(c));
		ret = 2;
		goto out;
	}
	if ((e = load_trust(c, ledger, &l)) != KG_OK) {
		ret = fail(e);
		goto out;
	}
	/* The current checkpoint, proven with entry 0's inclusion and a
	 * consistency proof from what the brokers have seen. */
	if ((e = kg_ledger_log_proof(dir, 0, &bundle, &blen)) != KG_OK) {
		ret = fail(e);
		goto out;
	}
	if (l.trust.seen_size) {
		if ((e = kg_ledger_log_consistency(dir, l.trust.seen_size, &cproof, &clen)) != KG_OK ||
		    (e = kg_ledger_consistency_parse((const uint8_t *)cproof, clen, &cons)) != KG_OK) {
			ret = fail(e);
			goto out;
		}
		consp = &cons;
	}
	e = kg_ledger_verify_bundle(&l.trust, (const uint8_t *)bundle, blen, consp, time(NULL), &v);
	if (e != KG_OK && e != KG_ERR_LEDGER_REVOKED) {
		ret = fail(e);
		goto out;
	}
	if (v.update_seen) {
		char sz[24];
		const char *p[3] = {ledger, sz, (const char *)v.root};
		int lens[3] = {0, 0, 32}, fmts[3] = {0, 0, 1};
		PGresult *r;
		snprintf(sz, sizeof sz, "%llu", (unsigned long long)v.size);
		r = PQexecParams(c,
				 "INSERT INTO ledger_checkpoints (ledger_id, size, root) VALUES ($1, $2::bigint, $3)"
				 " ON CONFLICT (ledger_id) DO UPDATE SET size = EXCLUDED.size, root = EXCLUDED.root,"
				 " updated_at = now() WHERE ledger_checkpoints.size < EXCLUDED.size",
				 3, NULL, p, lens, fmts, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "keygate ledger sync: %s", PQresultErrorMessage(r));
			PQclear(r);
			goto out;
		}
		PQclear(r);
	}
	/* Revocations only ever deny more: import every one the log lists. */
	if ((e = kg_ledger_log_revoked(dir, &revoked, &rlen)) != KG_OK) {
		ret = fail(e);
		goto out;
	}
	for (char *line = revoked, *nl; line && *line; line = nl ? nl + 1 : NULL) {
		char tee[8], hex[2 * KG_LEDGER_MAX_MEASUREMENT + 1], bhex[2 * KG_LEDGER_MAX_MEASUREMENT + 4];
		const char *p[3] = {ledger, tee, bhex};
		PGresult *r;
		nl = strchr(line, '\n');
		if (nl)
			*nl = 0;
		if (sscanf(line, "%7s %128s", tee, hex) != 2)
			continue;
		snprintf(bhex, sizeof bhex, "\\x%s", hex);
		r = PQexecParams(c,
				 "INSERT INTO ledger_revocations (ledger_id, tee, measurement) VALUES ($1, $2, $3::bytea)"
				 " ON CONFLICT DO NOTHING",
				 3, NULL, p, NULL, NULL, 0);
		if (PQresultStatus(r) != PGRES_COMMAND_OK) {
			fprintf(stderr, "keygate ledger sync: %s", PQresultErrorMessage(r));
			PQclear(r);
			goto out;
		}
		imported += strtoul(PQcmdTuples(r), NULL, 10);
		PQclear(r);
	}
	printf("{\"ledger_id\":\"%s\",\"checkpoint_size\":%llu,\"advanced\":%s,\"revocations_imported\":%zu}\n", ledger,
	       (unsigned long long)v.size, v.update_seen ? "true" : "false", imported);
	ret = 0;
out:
	if (c)
		PQfinish(c);
	free(l.revoked);
	free(bundle);
	free(cproof);
	free(revoked);
	return ret;
}

int kg_cmd_ledger(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "verify") == 0)
		return cmd_verify(argc - 1, argv + 1);
	if (argc >= 2 && strcmp(argv[1], "sync") == 0)
		return cmd_sync(argc - 1, argv + 1);
	if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		usage(stdout);
		return 0;
	}
	usage(stderr);
	return 2;
}
