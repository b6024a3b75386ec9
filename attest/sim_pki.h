/*
 * Folder-private helpers shared by the simulated attesters (snp_sim.c,
 * tdx_sim.c, gpu_sim.c): files in a simulator's state directory, PEM certificates and
 * private keys there, and X.509 extensions.  Not part of attest/'s public
 * interface; linked only into kg_snp_sim (never the broker).
 */
#ifndef KG_SIM_PKI_H
#define KG_SIM_PKI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "../common/err.h"

/* Writes "dir/name" into out[0..size).  KG_ERR_INVALID_ARG if it does not
 * fit (out then holds a truncated string that must not be used). */
KG_MUST_CHECK kg_err kg_sim_path(char *out, size_t size, const char *dir, const char *name);

/* Whether "dir/name" exists and is a regular file (false when the path
 * does not fit in PATH_MAX). */
bool kg_sim_exists(const char *dir, const char *name);

/* Writes data[0..len) to "dir/name" atomically with the given mode
 * (kg_file_write).  KG_ERR_INVALID_ARG if the path does not fit. */
KG_MUST_CHECK kg_err kg_sim_write(const char *dir, const char *name, const void *data, size_t len, unsigned mode);

/* Reads "dir/name", at most max bytes, into a malloc'd *buf of *len bytes
 * (kg_file_read; the caller frees).  *buf and *len are cleared on entry.
 * KG_ERR_INVALID_ARG if the path does not fit. */
KG_MUST_CHECK kg_err kg_sim_read(const char *dir, const char *name, size_t max, uint8_t **buf, size_t *len);

/* Writes x as PEM to "dir/name", mode 0644.  KG_ERR_CRYPTO if it cannot be
 * encoded, else kg_sim_write's error. */
KG_MUST_CHECK kg_err kg_sim_write_cert(const char *dir, const char *name, X509 *x);

/* Writes key as PEM PKCS#8, unencrypted, to "dir/name", mode 0600; the PEM
 * text is wiped from memory.  KG_ERR_CRYPTO if it cannot be encoded, else
 * kg_sim_write's error. */
KG_MUST_CHECK kg_err kg_sim_write_key(const char *dir, const char *name, EVP_PKEY *key);

/* Reads the PEM certificate "dir/name" (at most max bytes) into *out, which
 * the caller frees; *out is cleared on entry.  kg_sim_read's error, or
 * KG_ERR_CRYPTO if it does not parse.  Clears OpenSSL's error queue. */
KG_MUST_CHECK kg_err kg_sim_read_cert(const char *dir, const char *name, size_t max, X509 **out);

/* Reads the PEM private key "dir/name" (at most 16 KiB) into *out, which
 * the caller frees; *out is cleared on entry and the file's bytes are
 * wiped.  kg_sim_read's error, or KG_ERR_CRYPTO if it does not parse.
 * Clears OpenSSL's error queue. */
KG_MUST_CHECK kg_err kg_sim_read_key(const char *dir, const char *name, EVP_PKEY **out);

/* Adds to x the extension nid given in OpenSSL's config syntax (value, e.g.
 * "critical,CA:TRUE"), with issuer as the issuer for key identifiers.
 * False on any failure. */
KG_MUST_CHECK bool kg_sim_ext_conf(X509 *x, X509 *issuer, int nid, const char *value);

/* Adds to x a non-critical extension oid (dotted text) whose extnValue is
 * der[0..len).  False on any failure, or if len exceeds INT32_MAX. */
KG_MUST_CHECK bool kg_sim_ext_der(X509 *x, const char *oid, const uint8_t *der, size_t len);

/* Adds to x NVIDIA's Hopper/LS10 FWID extension (TCG DICE 2.23.133.5.4.1,
 * non-critical) as NVIDIA's GSP FMC leaves carry it:
 *   SEQUENCE { INTEGER 1, SubjectPublicKeyInfo of key,
 *              SEQUENCE { OID sha384, OCTET STRING fwid } }
 * (attest/nvgpu.c fwid_hopper reads the last element).  False on failure. */
KG_MUST_CHECK bool kg_sim_ext_fwid_hopper(X509 *x, EVP_PKEY *key, const uint8_t fwid[static 48]);

/* Adds to x NVIDIA's Blackwell FWID extension (TCG DICE 2.23.133.5.4.1.1,
 * non-critical), a DiceTcbInfo (TCG DICE Attestation Architecture §6.1.1)
 * holding only fwids [6]: the FWID, then a zero digest as in NVIDIA's
 * GB100 leaves.  False on failure. */
KG_MUST_CHECK bool kg_sim_ext_fwid_blackwell(X509 *x, const uint8_t fwid[static 48]);

/* ECDSA P-384 / SHA-384 over msg[0..len) with key, as SPDM 1.1 signatures
 * are carried: r || s, big-endian, 48 bytes each.  KG_ERR_CRYPTO. */
KG_MUST_CHECK kg_err kg_sim_sign_p384_raw(EVP_PKEY *key, const uint8_t *msg, size_t len, uint8_t out[static 96]);

#endif
