/*
 * One interface for every evidence format: evidence bytes in, normalised
 * claims (or a specific reason code) out.  Pure: no network, no database;
 * the time is passed in.
 */
#ifndef KG_ATTEST_H
#define KG_ATTEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "../common/err.h"
#include "snp.h"

enum kg_tee {
	KG_TEE_NONE = 0,
	KG_TEE_SNP = 1,
};

/* "snp" etc.; "none" for KG_TEE_NONE. */
const char *kg_tee_name(enum kg_tee tee);
/* KG_TEE_NONE when unknown. */
enum kg_tee kg_tee_from_name(const char *name);

/* Normalised claims: the fields every policy can name, plus the
 * TEE-specific report. */
struct kg_claims {
	enum kg_tee tee;
	uint8_t report_data[64];
	uint8_t measurement[64];
	size_t measurement_len;
	uint8_t chip_id[64];
	size_t chip_id_len;
	bool debug;
	union {
		struct kg_snp_report snp;
	} u;
};

struct kg_attest_config {
	/* PEM file of SEV-SNP ARKs to trust; NULL = AMD's shipped roots. */
	const char *snp_roots;
};

struct kg_attest;

KG_MUST_CHECK kg_err kg_attest_new(struct kg_attest **out, const struct kg_attest_config *cfg);
void kg_attest_free(struct kg_attest *a);

/* Which TEE a RA-TLS evidence tag denotes; KG_TEE_NONE when unknown. */
enum kg_tee kg_attest_tee_for_tag(uint64_t tag);

/* Verifies evidence of the given TEE at time now.  For SNP, evidence is
 * the 1184-byte report optionally followed by the GHCB certificate table;
 * extra supplies certificates from elsewhere (command line), may be NULL. */
KG_MUST_CHECK kg_err kg_attest_verify(struct kg_attest *a, enum kg_tee tee, const uint8_t *evidence, size_t len,
				      const struct kg_snp_certs *extra, time_t now, struct kg_claims *out);

/* Claims as a JSON object text (malloc'd, caller frees). */
KG_MUST_CHECK kg_err kg_claims_to_json(const struct kg_claims *c, char **json);

#endif
