#include "evidence.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/sev-guest.h>
#include <openssl/crypto.h>

#include "../attest/ratls.h"
#include "../attest/snp.h"
#include "../attest/tdx.h"
#include "../common/cursor.h"
#include "../common/util.h"

static void say(struct kg_evidence_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(struct kg_evidence_diag *d, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(d->msg, sizeof d->msg, fmt, ap);
	va_end(ap);
}

/* SEV-SNP Firmware ABI 56860, Table 22: REPORT_DATA at 0x50. */
#define SNP_REPORT_DATA_OFF 0x50

kg_err kg_evidence_check(uint64_t tag, const uint8_t *ev, size_t len, const uint8_t report_data[static 64])
{
	struct kg_cur c = kg_cur_init(ev, len);
	uint8_t rd[64];

	if (tag == KG_RATLS_TAG_SNP) {
		struct kg_cur report;
		struct kg_snp_cert_table t;
		KG_ENSURE(len >= KG_SNP_REPORT_SIZE, KG_ERR_EVIDENCE_SIZE);
		KG_TRY(kg_cur_sub(&c, &report, KG_SNP_REPORT_SIZE));
		KG_TRY(kg_cur_skip(&report, SNP_REPORT_DATA_OFF));
		KG_TRY(kg_cur_copy(&report, rd, sizeof rd));
		/* Not secret, but the kernel's answer must be for our question. */
		KG_ENSURE(CRYPTO_memcmp(rd, report_data, 64) == 0, KG_ERR_EVIDENCE_REPORT_DATA);
		/* What follows is the GHCB certificate table, or nothing. */
		return kg_snp_cert_table_parse(kg_cur_ptr(&c), kg_cur_left(&c), &t);
	}
	if (tag == KG_RATLS_TAG_INTEL_QUOTE) {
		struct kg_tdx_quote q;
		kg_err e = kg_tdx_quote_parse(ev, len, &q);
		if (e == KG_ERR_TDX_QUOTE_MALFORMED)
			return KG_ERR_EVIDENCE_SIZE;
		KG_TRY(e);
		KG_ENSURE(CRYPTO_memcmp(q.body.report_data, report_data, 64) == 0, KG_ERR_EVIDENCE_REPORT_DATA);
		return KG_OK;
	}
	return KG_ERR_INVALID_ARG;
}

kg_err kg_sev_guest_report(const uint8_t *resp, size_t len, const uint8_t **report)
{
	struct kg_cur c = kg_cur_init(resp, len);
	uint32_t status, size;

	*report = NULL;
	KG_TRY(kg_cur_u32le(&c, &status));
	KG_TRY(kg_cur_u32le(&c, &size));
	KG_TRY(kg_cur_skip(&c, KG_SNP_MSG_REPORT_RSP_HDR - 8));
	KG_ENSURE(status == 0, KG_ERR_SEV_GUEST);
	KG_ENSURE(size == KG_SNP_REPORT_SIZE, KG_ERR_EVIDENCE_SIZE);
	KG_ENSURE(kg_cur_bytes(&c, report, KG_SNP_REPORT_SIZE) == KG_OK, KG_ERR_EVIDENCE_SIZE);
	return KG_OK;
}

/* ---- configfs-tsm ------------------------------------------------------ */

/* Reads a whole attribute (at most max bytes) into *buf (malloc'd, NUL
 * appended).  ENOENT is reported as *missing, not as an error: auxblob is
 * optional. */
static kg_err read_attr(int dir, const char *name, size_t max, uint8_t **buf, size_t *len, bool *missing)
{
	int fd;
	kg_err rc;

	*buf = NULL;
	*len = 0;
	if (missing)
		*missing = false;
	if ((fd = openat(dir, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)) < 0) {
		if (errno == ENOENT && missing) {
			*missing = true;
			return KG_OK;
		}
		return KG_ERR_IO;
	}
	rc = kg_fd_read(fd, max, buf, len);
	close(fd);
	return rc;
}

static kg_err write_attr(int dir, const char *name, const void *p, size_t n)
{
	int fd = openat(dir, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	ssize_t w;

	KG_ENSURE(fd >= 0, KG_ERR_IO);
	do
		w = write(fd, p, n);
	while (w < 0 && errno == EINTR);
	/* configfs applies a binary attribute when the file is closed. */
	if (close(fd) != 0 || w != (ssize_t)n)
		return KG_ERR_IO;
	return KG_OK;
}

static kg_err read_generation(int dir, unsigned long long *g)
{
	uint8_t *b;
	size_t n;
	char *end;
	kg_err rc;

	KG_TRY(read_attr(dir, "generation", 32, &b, &n, NULL));
	errno = 0;
	*g = strtoull((const char *)b, &end, 10);
	rc = (errno == 0 && end != (char *)b && (*end == '\n' || *end == 0)) ? KG_OK : KG_ERR_TSM_UNAVAILABLE;
	free(b);
	return rc;
}

/* Steps after the entry exists; the caller removes it whatever happens. */
static kg_err tsm_report(int dir, const char *path, int privlevel, const uint8_t report_data[static 64],
			 uint64_t *tag, uint8_t **ev, size_t *len, struct kg_evidence_diag *diag)
{
	uint8_t *prov = NULL, *out = NULL, *aux = NULL, *all = NULL;
	size_t prov_len, out_len, aux_len;
	unsigned long long g0, g1, writes = 0;
	bool missing;
	kg_err rc;

	if ((rc = read_attr(dir, "provider", 64, &prov, &prov_len, &missing)) != KG_OK || missing) {
		say(diag, "%s/provider: %s", path, missing ? "missing" : strerror(errno));
		rc = KG_ERR_TSM_PROVIDER;
		goto out;
	}
	if (prov_len > 0 && prov[prov_len - 1] == '\n')
		prov[--prov_len] = 0;
	if (strcmp((char *)prov, "sev_guest") == 0) {
		*tag = KG_RATLS_TAG_SNP;
	} else if (strcmp((char *)prov, "tdx_guest") == 0) {
		*tag = KG_RATLS_TAG_INTEL_QUOTE;
	} else {
		say(diag, "%s/provider: '%.64s' is neither sev_guest nor tdx_guest", path, (char *)prov);
		rc = KG_ERR_TSM_PROVIDER;
		goto out;
	}
	/* The ABI's own advice: note generation before writing, and check
	 * after reading outblob that it moved by exactly our writes. */
	if ((rc = read_generation(dir, &g0)) != KG_OK) {
		say(diag, "%s/generation: unreadable", path);
		goto out;
	}
	if (privlevel >= 0) {
		char pl[4];
		snprintf(pl, sizeof pl, "%d\n", privlevel);
		if ((rc = write_attr(dir, "privlevel", pl, strlen(pl))) != KG_OK) {
			say(diag, "%s/privlevel: %s", path, strerror(errno));
			rc = KG_ERR_TSM_UNAVAILABLE;
			goto out;
		}
		writes++;
	}
	if ((rc = write_attr(dir, "inblob", report_data, KG_TSM_INBLOB_LEN)) != KG_OK) {
		say(diag, "%s/inblob: %s", path, strerror(errno));
		rc = KG_ERR_TSM_UNAVAILABLE;
		goto out;
	}
	writes++;
	if ((rc = read_attr(dir, "outblob", KG_TSM_BLOB_MAX, &out, &out_len, NULL)) != KG_OK) {
		say(diag, "%s/outblob: %s", path, rc == KG_ERR_IO ? strerror(errno) : kg_err_msg(rc));
		rc = rc == KG_ERR_IO ? KG_ERR_TSM_UNAVAILABLE : rc;
		goto out;
	}
	aux_len = 0;
	if (*tag == KG_RATLS_TAG_SNP &&
	    (rc = read_attr(dir, "auxblob", KG_TSM_BLOB_MAX, &aux, &aux_len, &missing)) != KG_OK) {
		say(diag, "%s/auxblob: %s", path, rc == KG_ERR_IO ? strerror(errno) : kg_err_msg(rc));
		rc = rc == KG_ERR_IO ? KG_ERR_TSM_UNAVAILABLE : rc;
		goto out;
	}
	if ((rc = read_generation(dir, &g1)) != KG_OK) {
		say(diag, "%s/generation: unreadable", path);
		goto out;
	}
	if (g1 != g0 + writes) {
		say(diag, "%s: generation went from %llu to %llu around our %llu write(s)", path, g0, g1, writes);
		rc = KG_ERR_TSM_GENERATION;
		goto out;
	}
	/* SEV-SNP: outblob is the report alone, whatever auxblob holds. */
	if (*tag == KG_RATLS_TAG_SNP && out_len != KG_SNP_REPORT_SIZE) {
		say(diag, "%s: sev_guest outblob of %zu bytes, not %d", path, out_len, KG_SNP_REPORT_SIZE);
		rc = KG_ERR_EVIDENCE_SIZE;
		goto out;
	}
	KG_ENSURE_OUT((all = malloc(out_len + aux_len + 1)) != NULL, KG_ERR_NOMEM);
	memcpy(all, out, out_len);
	if (aux_len)
		memcpy(all + out_len, aux, aux_len);
	if ((rc = kg_evidence_check(*tag, all, out_len + aux_len, report_data)) != KG_OK) {
		say(diag, "%s: %s outblob of %zu bytes, auxblob of %zu: %s", path, (char *)prov, out_len, aux_len,
		    kg_err_msg(rc));
		goto out;
	}
	*ev = all;
	*len = out_len + aux_len;
	all = NULL;
out:
	free(prov);
	free(out);
	free(aux);
	free(all);
	return rc;
}

kg_err kg_tsm_get(const char *root, int privlevel, const uint8_t report_data[static 64], uint64_t *tag,
		  uint8_t **ev, size_t *len, struct kg_evidence_diag *diag)
{
	char name[64], path[4096];
	int rootfd = -1, dir = -1;
	kg_err rc;

	*ev = NULL;
	*len = 0;
	*tag = 0;
	diag->msg[0] = 0;
	KG_ENSURE(privlevel <= KG_TSM_PRIVLEVEL_MAX, KG_ERR_INVALID_ARG);
	/* Early boot (an initramfs) may not have mounted configfs yet; the
	 * kernel's own mount point is the only place tried. */
	if (strcmp(root, KG_TSM_ROOT_DEFAULT) == 0 && access(root, F_OK) != 0 && errno == ENOENT)
		(void)mount("configfs", "/sys/kernel/config", "configfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	if ((rootfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		say(diag, "%s: %s (is this a CVM with configfs-tsm, and configfs mounted?)", root, strerror(errno));
		return KG_ERR_TSM_UNAVAILABLE;
	}
	/* An entry of our own ("a report instance per requesting context"):
	 * a random name, so concurrent clients never share one. */
	for (int tries = 0;; tries++) {
		uint32_t r;
		if (getrandom(&r, sizeof r, 0) != sizeof r) {
			rc = KG_ERR_RANDOM;
			goto out_root;
		}
		snprintf(name, sizeof name, "keygate-%ld-%08" PRIx32, (long)getpid(), r);
		if (mkdirat(rootfd, name, 0700) == 0)
			break;
		if (errno != EEXIST || tries == 3) {
			say(diag, "mkdir %s/%s: %s", root, name, strerror(errno));
			rc = KG_ERR_TSM_UNAVAILABLE;
			goto out_root;
		}
	}
	snprintf(path, sizeof path, "%s/%s", root, name);
	if ((dir = openat(rootfd, name, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
		say(diag, "%s: %s", path, strerror(errno));
		rc = KG_ERR_TSM_UNAVAILABLE;
	} else {
		rc = tsm_report(dir, path, privlevel, report_data, tag, ev, len, diag);
		close(dir);
	}
	/* configfs removes the entry with its attributes. */
	if (unlinkat(rootfd, name, AT_REMOVEDIR) != 0 && rc == KG_OK) {
		say(diag, "rmdir %s: %s", path, strerror(errno));
		free(*ev);
		*ev = NULL;
		*len = 0;
		rc = KG_ERR_TSM_UNAVAILABLE;
	}
out_root:
	close(rootfd);
	return rc;
}

/* ---- /dev/sev-guest ------------------------------------------------------ */

kg_err kg_sev_guest_get(const char *dev, unsigned vmpl, const uint8_t report_data[static 64], uint8_t **ev,
			size_t *len, struct kg_evidence_diag *diag)
{
	struct snp_ext_report_req req;
	struct snp_report_resp resp;
	struct snp_guest_request_ioctl io;
	const uint8_t *report;
	uint8_t *certs = NULL, *all = NULL;
	size_t certs_len = 2 * 4096; /* page multiples, as the driver wants */
	int fd, r = -1;
	kg_err rc;

	*ev = NULL;
	*len = 0;
	diag->msg[0] = 0;
	KG_ENSURE(vmpl <= KG_TSM_PRIVLEVEL_MAX, KG_ERR_INVALID_ARG);
	if ((fd = open(dev, O_RDWR | O_CLOEXEC)) < 0) {
		say(diag, "%s: %s (is this an SEV-SNP guest with the sev-guest driver?)", dev, strerror(errno));
		return KG_ERR_SEV_GUEST;
	}
	/* Twice at most: the second time with the size the host asked for. */
	for (int attempt = 0; attempt < 2; attempt++) {
		free(certs);
		KG_ENSURE_OUT((certs = calloc(1, certs_len)) != NULL, KG_ERR_NOMEM);
		memset(&req, 0, sizeof req);
		memset(&resp, 0, sizeof resp);
		memset(&io, 0, sizeof io);
		memcpy(req.data.user_data, report_data, 64);
		req.data.vmpl = vmpl;
		req.certs_address = (uint64_t)(uintptr_t)certs;
		req.certs_len = (uint32_t)certs_len;
		io.msg_version = 1;
		io.req_data = (uint64_t)(uintptr_t)&req;
		io.resp_data = (uint64_t)(uintptr_t)&resp;
		if ((r = ioctl(fd, SNP_GET_EXT_REPORT, &io)) == 0)
			break;
		/* The host's table is larger: req.certs_len now says how large. */
		if (io.vmm_error != SNP_GUEST_VMM_ERR_INVALID_LEN || req.certs_len <= certs_len ||
		    req.certs_len > KG_SEV_GUEST_CERTS_MAX)
			break;
		certs_len = req.certs_len;
	}
	if (r != 0) {
		say(diag, "%s: SNP_GET_EXT_REPORT: %s (firmware error %#x, VMM error %#x)", dev, strerror(errno),
		    io.fw_error, io.vmm_error);
		rc = KG_ERR_SEV_GUEST;
		goto out;
	}
	if ((rc = kg_sev_guest_report(resp.data, sizeof resp.data, &report)) != KG_OK) {
		say(diag, "%s: MSG_REPORT_RSP: %s", dev, kg_err_msg(rc));
		goto out;
	}
	/* An empty table (the host has none) is all zeros: send the bare
	 * report, and the broker uses its stored VCEK. */
	size_t tlen = 0;
	for (size_t i = 0; i < certs_len; i++)
		if (certs[i] != 0)
			tlen = certs_len;
	KG_ENSURE_OUT((all = malloc(KG_SNP_REPORT_SIZE + tlen)) != NULL, KG_ERR_NOMEM);
	memcpy(all, report, KG_SNP_REPORT_SIZE);
	if (tlen)
		memcpy(all + KG_SNP_REPORT_SIZE, certs, tlen);
	if ((rc = kg_evidence_check(KG_RATLS_TAG_SNP, all, KG_SNP_REPORT_SIZE + tlen, report_data)) != KG_OK) {
		say(diag, "%s: %s", dev, kg_err_msg(rc));
		goto out;
	}
	*ev = all;
	*len = KG_SNP_REPORT_SIZE + tlen;
	all = NULL;
out:
	free(certs);
	free(all);
	close(fd);
	return rc;
}
