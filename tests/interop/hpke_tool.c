/*
 * hpke-tool: Keygate's HPKE (keys/hpke.c) on the command line, for the
 * interop test against @hpke/core (tests/interop/run.sh).  Test tool only:
 * it prints private keys and plaintexts.
 *
 *   hpke-tool keygen                                       -> sk, pk
 *   hpke-tool derive IKM                                   -> sk, pk
 *   hpke-tool seal AEAD PKR INFO AAD PT                    -> enc, ct
 *   hpke-tool open AEAD SKR ENC INFO AAD CT                -> pt
 *   hpke-tool export AEAD SKR ENC INFO EXPORTER_CONTEXT L  -> exported value
 *
 * Every byte string is lowercase or uppercase hex ("" is empty); each
 * output is one line of lowercase hex.  AEAD is aes-128-gcm, aes-256-gcm,
 * chacha20-poly1305 or a numeric id (2, 0x0002).  Exit status: 0 on
 * success, 1 when the operation fails (the stable error code is printed on
 * stderr), 2 on a usage error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "../../common/util.h"
#include "../../keys/hpke.h"

#define ARG_MAX_BYTES (1u << 20) /* longest byte-string argument */

/* A decoded argument.  Once decoded p is never NULL, even for an empty
 * value, so that it can be passed on as a pointer + length pair. */
struct bytes {
	uint8_t *p;
	size_t n;
};

/* Wipes (arguments may be secret) and frees; safe on a cleared value. */
static void bytes_free(struct bytes *b)
{
	if (b->p) {
		kg_wipe(b->p, b->n);
		free(b->p);
	}
	b->p = NULL;
	b->n = 0;
}

/* Decodes hex of any even length up to ARG_MAX_BYTES bytes; the length is
 * checked before anything is allocated. */
static kg_err bytes_unhex(struct bytes *b, const char *hex)
{
	size_t len = strlen(hex);

	b->p = NULL;
	b->n = 0;
	KG_ENSURE(len % 2 == 0, KG_ERR_INVALID_ARG);
	KG_ENSURE(len / 2 <= ARG_MAX_BYTES, KG_ERR_TOO_LARGE);
	KG_ENSURE((b->p = malloc(len / 2 + 1)) != NULL, KG_ERR_NOMEM);
	b->n = len / 2;
	if (b->n > 0 && kg_unhex(b->p, b->n, hex) != KG_OK) {
		bytes_free(b);
		return KG_ERR_INVALID_ARG;
	}
	return KG_OK;
}

/* Prints n bytes as one line of hex. */
static kg_err print_hex(const uint8_t *p, size_t n)
{
	char *s = malloc(2 * n + 1);

	KG_ENSURE(s != NULL, KG_ERR_NOMEM);
	kg_hex(s, p, n);
	printf("%s\n", s);
	kg_wipe(s, 2 * n + 1);
	free(s);
	return KG_OK;
}

/* AEAD by name or by numeric id (decimal or 0x hex, at most 0xffff). */
static kg_err parse_aead(const char *s, uint16_t *aead)
{
	static const struct {
		const char *name;
		uint16_t id;
	} names[] = {
		{"aes-128-gcm", KG_HPKE_AEAD_AES_128_GCM},
		{"aes-256-gcm", KG_HPKE_AEAD_AES_256_GCM},
		{"chacha20-poly1305", KG_HPKE_AEAD_CHACHA20_POLY1305},
	};
	unsigned long v;
	char *end;
	size_t i;

	for (i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i].name) == 0) {
			*aead = names[i].id;
			return KG_OK;
		}
	}
	/* A numeric id goes through unchecked so that the library's own
	 * KG_ERR_HPKE_SUITE can be tested. */
	errno = 0;
	v = strtoul(s, &end, 0);
	KG_ENSURE(errno == 0 && end != s && *end == 0 && v <= 0xffff, KG_ERR_INVALID_ARG);
	*aead = (uint16_t)v;
	return KG_OK;
}

/* keygen: prints a fresh sk and pk. */
static kg_err cmd_keygen(char **argv)
{
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK];
	kg_err rc;

	(void)argv;
	KG_TRY_OUT(kg_hpke_keygen(sk, pk));
	KG_TRY_OUT(print_hex(sk, sizeof sk));
	KG_TRY_OUT(print_hex(pk, sizeof pk));
out:
	kg_wipe(sk, sizeof sk);
	return rc;
}

/* derive IKM: prints DeriveKeyPair(IKM) as sk and pk. */
static kg_err cmd_derive(char **argv)
{
	uint8_t sk[KG_HPKE_NSK], pk[KG_HPKE_NPK];
	struct bytes ikm = {NULL, 0};
	kg_err rc;

	memset(sk, 0, sizeof sk);
	KG_TRY_OUT(bytes_unhex(&ikm, argv[0]));
	KG_TRY_OUT(kg_hpke_derive_keypair(ikm.p, ikm.n, sk, pk));
	KG_TRY_OUT(print_hex(sk, sizeof sk));
	KG_TRY_OUT(print_hex(pk, sizeof pk));
out:
	kg_wipe(sk, sizeof sk);
	bytes_free(&ikm);
	return rc;
}

/* seal AEAD PKR INFO AAD PT: prints enc and ct of SealBase. */
static kg_err cmd_seal(char **argv)
{
	uint8_t pkR[KG_HPKE_NPK], enc[KG_HPKE_NENC];
	struct bytes info = {NULL, 0}, aad = {NULL, 0}, pt = {NULL, 0};
	uint8_t *ct = NULL;
	uint16_t aead;
	kg_err rc;

	KG_TRY_OUT(parse_aead(argv[0], &aead));
	KG_TRY_OUT(kg_unhex(pkR, sizeof pkR, argv[1]));
	KG_TRY_OUT(bytes_unhex(&info, argv[2]));
	KG_TRY_OUT(bytes_unhex(&aad, argv[3]));
	KG_TRY_OUT(bytes_unhex(&pt, argv[4]));
	KG_ENSURE_OUT((ct = malloc(pt.n + KG_HPKE_NT)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_hpke_seal_base(aead, pkR, info.p, info.n, aad.p, aad.n, pt.p, pt.n, enc, ct));
	KG_TRY_OUT(print_hex(enc, sizeof enc));
	KG_TRY_OUT(print_hex(ct, pt.n + KG_HPKE_NT));
out:
	free(ct);
	bytes_free(&info);
	bytes_free(&aad);
	bytes_free(&pt);
	return rc;
}

/* open AEAD SKR ENC INFO AAD CT: prints pt of OpenBase. */
static kg_err cmd_open(char **argv)
{
	uint8_t skR[KG_HPKE_NSK], enc[KG_HPKE_NENC];
	struct bytes info = {NULL, 0}, aad = {NULL, 0}, ct = {NULL, 0};
	uint8_t *pt = NULL;
	size_t pt_len = 0;
	uint16_t aead;
	kg_err rc;

	memset(skR, 0, sizeof skR);
	KG_TRY_OUT(parse_aead(argv[0], &aead));
	KG_TRY_OUT(kg_unhex(skR, sizeof skR, argv[1]));
	KG_TRY_OUT(kg_unhex(enc, sizeof enc, argv[2]));
	KG_TRY_OUT(bytes_unhex(&info, argv[3]));
	KG_TRY_OUT(bytes_unhex(&aad, argv[4]));
	KG_TRY_OUT(bytes_unhex(&ct, argv[5]));
	KG_ENSURE_OUT(ct.n >= KG_HPKE_NT, KG_ERR_HPKE_OPEN);
	pt_len = ct.n - KG_HPKE_NT;
	KG_ENSURE_OUT((pt = malloc(pt_len + 1)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_hpke_open_base(aead, skR, enc, info.p, info.n, aad.p, aad.n, ct.p, ct.n, pt));
	KG_TRY_OUT(print_hex(pt, pt_len));
out:
	kg_wipe(skR, sizeof skR);
	if (pt) {
		kg_wipe(pt, pt_len);
		free(pt);
	}
	bytes_free(&info);
	bytes_free(&aad);
	bytes_free(&ct);
	return rc;
}

/* export AEAD SKR ENC INFO EXPORTER_CONTEXT L: prints the receiver's
 * Export(EXPORTER_CONTEXT, L). */
static kg_err cmd_export(char **argv)
{
	uint8_t skR[KG_HPKE_NSK], enc[KG_HPKE_NENC], out_buf[KG_HPKE_EXPORT_MAX];
	struct bytes info = {NULL, 0}, ectx = {NULL, 0};
	struct kg_hpke_ctx ctx;
	unsigned long len;
	uint16_t aead;
	char *end;
	kg_err rc;

	memset(skR, 0, sizeof skR);
	memset(&ctx, 0, sizeof ctx);
	memset(out_buf, 0, sizeof out_buf);
	errno = 0;
	len = strtoul(argv[5], &end, 10);
	KG_ENSURE_OUT(errno == 0 && end != argv[5] && *end == 0 && len <= KG_HPKE_EXPORT_MAX, KG_ERR_INVALID_ARG);
	KG_TRY_OUT(parse_aead(argv[0], &aead));
	KG_TRY_OUT(kg_unhex(skR, sizeof skR, argv[1]));
	KG_TRY_OUT(kg_unhex(enc, sizeof enc, argv[2]));
	KG_TRY_OUT(bytes_unhex(&info, argv[3]));
	KG_TRY_OUT(bytes_unhex(&ectx, argv[4]));
	KG_TRY_OUT(kg_hpke_setup_r(&ctx, aead, skR, enc, info.p, info.n));
	KG_TRY_OUT(kg_hpke_export(&ctx, ectx.p, ectx.n, out_buf, len));
	KG_TRY_OUT(print_hex(out_buf, len));
out:
	kg_hpke_ctx_wipe(&ctx);
	kg_wipe(skR, sizeof skR);
	kg_wipe(out_buf, sizeof out_buf);
	bytes_free(&info);
	bytes_free(&ectx);
	return rc;
}

static const struct {
	const char *name;
	int argc; /* arguments after the subcommand */
	kg_err (*run)(char **argv);
	const char *usage;
} commands[] = {
	{"keygen", 0, cmd_keygen, ""},
	{"derive", 1, cmd_derive, "IKM"},
	{"seal", 5, cmd_seal, "AEAD PKR INFO AAD PT"},
	{"open", 6, cmd_open, "AEAD SKR ENC INFO AAD CT"},
	{"export", 6, cmd_export, "AEAD SKR ENC INFO EXPORTER_CONTEXT L"},
};

/* Prints every subcommand's usage; returns the usage exit status. */
static int usage(void)
{
	size_t i;

	for (i = 0; i < sizeof commands / sizeof commands[0]; i++)
		fprintf(stderr, "usage: hpke-tool %s %s\n", commands[i].name, commands[i].usage);
	return 2;
}

int main(int argc, char **argv)
{
	size_t i;

	if (sodium_init() < 0)
		return 1;
	if (argc < 2)
		return usage();
	for (i = 0; i < sizeof commands / sizeof commands[0]; i++) {
		kg_err rc;

		if (strcmp(argv[1], commands[i].name) != 0)
			continue;
		if (argc - 2 != commands[i].argc)
			return usage();
		rc = commands[i].run(argv + 2);
		if (fflush(stdout) != 0 && rc == KG_OK)
			rc = KG_ERR_IO;
		if (rc != KG_OK) {
			fprintf(stderr, "hpke-tool %s: %s (%s)\n", argv[1], kg_err_code(rc), kg_err_msg(rc));
			return 1;
		}
		return 0;
	}
	return usage();
}
