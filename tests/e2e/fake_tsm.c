/*
 * fake_tsm: a FUSE file system that behaves as Linux configfs-tsm does
 * (Documentation/ABI/testing/configfs-tsm), for testing keygate-client
 * --tee tsm without a CVM.  The mount point plays /sys/kernel/config/tsm/report:
 *
 *   mkdir NAME          makes a report entry holding, as the kernel's do,
 *                       provider, generation, inblob (WO, <= 64 bytes,
 *                       applied on close like a configfs binary attribute),
 *                       outblob, and for sev_guest auxblob, privlevel (WO)
 *                       and privlevel_floor;
 *   each write of inblob or privlevel bumps generation;
 *   reading outblob/auxblob makes the report for the current inblob when
 *   the generation moved since the last one (as tsm_report_read does):
 *   sev_guest: outblob = the simulated SNP report (attest/snp_sim.h),
 *   auxblob = its GHCB certificate table; tdx_guest: outblob = a simulated
 *   quote (attest/tdx_sim.h); REPORT_DATA = inblob; the driver refuses an
 *   inblob of another length than 64 with EINVAL;
 *   rmdir NAME          removes it.
 *
 * usage: fake_tsm MOUNTPOINT --sim-dir DIR --provider sev_guest|tdx_guest|none
 *                 [--sim-measurement HEX96] [--fault race|short|other-inblob]
 * --provider none leaves the provider attribute out; the faults: race =
 * another writer writes inblob while we read outblob (generation moves),
 * short = outblob cut to 100 bytes, other-inblob = the report is for an
 * inblob other than the one written, with no generation change.
 * Runs in the foreground until unmounted (fusermount3 -u).  Test code:
 * its state is one process-wide table.
 */
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fuse.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../attest/snp.h"
#include "../../attest/snp_sim.h"
#include "../../attest/tdx_sim.h"
#include "../../common/util.h"

#define MAX_ENTRIES 16
#define NAME_LEN 128

struct entry {
	bool used;
	char name[NAME_LEN];
	unsigned long gen, made_gen; /* made_gen: generation of out/aux */
	uint8_t inblob[64];
	size_t inblob_len;
	int privlevel;
	uint8_t *out, *aux;
	size_t out_len, aux_len;
};

/* What an open file serves or collects. */
struct handle {
	struct entry *e;
	int attr;
	uint8_t buf[KG_SNP_CERT_TABLE_MAX + 64 * 1024];
	size_t len;
};

enum { A_PROVIDER, A_GENERATION, A_INBLOB, A_OUTBLOB, A_AUXBLOB, A_PRIVLEVEL, A_PRIVLEVEL_FLOOR, A_COUNT };
static const char *attr_names[A_COUNT] = {"provider", "generation", "inblob", "outblob",
					  "auxblob", "privlevel", "privlevel_floor"};

static struct {
	const char *sim_dir;
	const char *provider; /* "none": no provider attribute */
	const char *fault;
	uint8_t measurement[48];
	struct entry entries[MAX_ENTRIES];
} fk;

static bool snp(void) { return strcmp(fk.provider, "sev_guest") == 0; }

static bool attr_present(int a)
{
	if (a == A_PROVIDER)
		return strcmp(fk.provider, "none") != 0;
	if (a == A_AUXBLOB || a == A_PRIVLEVEL || a == A_PRIVLEVEL_FLOOR)
		return snp();
	return true;
}

static struct entry *find(const char *name, size_t n)
{
	for (int i = 0; i < MAX_ENTRIES; i++)
		if (fk.entries[i].used && strlen(fk.entries[i].name) == n && memcmp(fk.entries[i].name, name, n) == 0)
			return &fk.entries[i];
	return NULL;
}

/* "/NAME" -> entry, attr -1; "/NAME/ATTR" -> entry, attr; "/" -> NULL, -1. */
static int lookup(const char *path, struct entry **e, int *attr)
{
	const char *name = path + 1, *slash;

	*e = NULL;
	*attr = -1;
	if (strcmp(path, "/") == 0)
		return 0;
	slash = strchr(name, '/');
	if ((*e = find(name, slash ? (size_t)(slash - name) : strlen(name))) == NULL)
		return -ENOENT;
	if (!slash)
		return 0;
	for (int a = 0; a < A_COUNT; a++)
		if (strcmp(slash + 1, attr_names[a]) == 0 && attr_present(a)) {
			*attr = a;
			return 0;
		}
	return -ENOENT;
}

static int fk_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
	struct entry *e;
	int a, r = lookup(path, &e, &a);

	memset(st, 0, sizeof *st);
	if (r)
		return r;
	if (a < 0) {
		st->st_mode = S_IFDIR | 0755;
		st->st_nlink = 2;
		return 0;
	}
	st->st_mode = S_IFREG | (a == A_INBLOB || a == A_PRIVLEVEL ? 0200 : 0444);
	st->st_nlink = 1;
	return 0;
}

static int fk_readdir(const char *path, void *buf, fuse_fill_dir_t fill, off_t off, struct fuse_file_info *fi,
		      enum fuse_readdir_flags flags)
{
	struct entry *e;
	int a, r = lookup(path, &e, &a);

	if (r)
		return r;
	if (a >= 0)
		return -ENOTDIR;
	fill(buf, ".", NULL, 0, 0);
	fill(buf, "..", NULL, 0, 0);
	for (int i = 0; i < (e ? A_COUNT : MAX_ENTRIES); i++) {
		if (e && attr_present(i))
			fill(buf, attr_names[i], NULL, 0, 0);
		else if (!e && fk.entries[i].used)
			fill(buf, fk.entries[i].name, NULL, 0, 0);
	}
	return 0;
}

static int fk_mkdir(const char *path, mode_t mode)
{
	const char *name = path + 1;

	if (strchr(name, '/'))
		return -EPERM; /* entries hold attributes, not directories */
	if (strlen(name) >= NAME_LEN)
		return -ENAMETOOLONG;
	if (find(name, strlen(name)))
		return -EEXIST;
	for (int i = 0; i < MAX_ENTRIES; i++)
		if (!fk.entries[i].used) {
			memset(&fk.entries[i], 0, sizeof fk.entries[i]);
			fk.entries[i].used = true;
			snprintf(fk.entries[i].name, NAME_LEN, "%s", name);
			return 0;
		}
	return -ENOSPC;
}

static int fk_rmdir(const char *path)
{
	struct entry *e;
	int a, r = lookup(path, &e, &a);

	if (r)
		return r;
	if (!e || a >= 0)
		return -EPERM;
	free(e->out);
	free(e->aux);
	memset(e, 0, sizeof *e);
	return 0;
}

/* The report for the entry's current inblob, made once per generation. */
static int make_report(struct entry *e)
{
	uint8_t rd[64], *ev = NULL;
	size_t len = 0;
	kg_err err;

	if (e->made_gen == e->gen && e->out)
		return 0;
	if (e->inblob_len != 64)
		return -EINVAL; /* sev-guest and tdx-guest take 64 bytes exactly */
	memcpy(rd, e->inblob, 64);
	if (fk.fault && strcmp(fk.fault, "other-inblob") == 0)
		rd[0] ^= 0xff;
	if (snp()) {
		struct kg_snp_sim_params p = kg_snp_sim_params_default();
		memcpy(p.measurement, fk.measurement, 48);
		p.vmpl = (uint32_t)e->privlevel;
		err = kg_snp_sim_attest(fk.sim_dir, &p, rd, &ev, &len);
	} else {
		struct kg_tdx_sim_params p = kg_tdx_sim_params_default();
		memcpy(p.mr_td, fk.measurement, 48);
		err = kg_tdx_sim_quote(fk.sim_dir, &p, rd, &ev, &len);
	}
	if (err != KG_OK) {
		fprintf(stderr, "fake_tsm: simulator: %s\n", kg_err_msg(err));
		return -EIO;
	}
	free(e->out);
	free(e->aux);
	e->out = e->aux = NULL;
	e->out_len = e->aux_len = 0;
	/* SEV-SNP: outblob the report, auxblob the certificate table. */
	size_t out_len = snp() && len > KG_SNP_REPORT_SIZE ? KG_SNP_REPORT_SIZE : len;
	if ((e->out = malloc(out_len)) == NULL || (len > out_len && (e->aux = malloc(len - out_len)) == NULL)) {
		free(ev);
		return -ENOMEM;
	}
	memcpy(e->out, ev, out_len);
	e->out_len = out_len;
	if (len > out_len) {
		memcpy(e->aux, ev + out_len, len - out_len);
		e->aux_len = len - out_len;
	}
	free(ev);
	if (fk.fault && strcmp(fk.fault, "short") == 0 && e->out_len > 100)
		e->out_len = 100;
	e->made_gen = e->gen;
	return 0;
}

static int fk_open(const char *path, struct fuse_file_info *fi)
{
	struct entry *e;
	int a, r = lookup(path, &e, &a), wr = (fi->flags & O_ACCMODE) != O_RDONLY;
	struct handle *h;

	if (r)
		return r;
	if (a < 0)
		return -EISDIR;
	if (wr != (a == A_INBLOB || a == A_PRIVLEVEL))
		return -EACCES;
	if ((h = calloc(1, sizeof *h)) == NULL)
		return -ENOMEM;
	h->e = e;
	h->attr = a;
	switch (a) {
	case A_PROVIDER:
		h->len = (size_t)snprintf((char *)h->buf, sizeof h->buf, "%s\n", fk.provider);
		break;
	case A_GENERATION:
		h->len = (size_t)snprintf((char *)h->buf, sizeof h->buf, "%lu\n", e->gen);
		break;
	case A_PRIVLEVEL_FLOOR:
		h->len = (size_t)snprintf((char *)h->buf, sizeof h->buf, "0\n");
		break;
	case A_OUTBLOB:
	case A_AUXBLOB:
		if ((r = make_report(e)) != 0) {
			free(h);
			return r;
		}
		if (a == A_OUTBLOB && fk.fault && strcmp(fk.fault, "race") == 0)
			e->gen++; /* someone else writes inblob meanwhile */
		h->len = a == A_OUTBLOB ? e->out_len : e->aux_len;
		if (h->len)
			memcpy(h->buf, a == A_OUTBLOB ? e->out : e->aux, h->len);
		break;
	}
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = 1; /* sizes are unknown until read, as in configfs */
	return 0;
}

static int fk_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	if ((size_t)off >= h->len)
		return 0;
	if (size > h->len - (size_t)off)
		size = h->len - (size_t)off;
	memcpy(buf, h->buf + off, size);
	return (int)size;
}

static int fk_write(const char *path, const char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;
	size_t max = h->attr == A_INBLOB ? 64 : 8;

	if ((size_t)off > max || size > max - (size_t)off)
		return -EFBIG;
	memcpy(h->buf + off, buf, size);
	if ((size_t)off + size > h->len)
		h->len = (size_t)off + size;
	if (h->attr == A_PRIVLEVEL) {
		/* A plain attribute: applied by the write itself. */
		char s[9] = {0};
		memcpy(s, h->buf, h->len);
		long v = strtol(s, NULL, 10);
		if (v < 0 || v > 3)
			return -EINVAL;
		h->e->privlevel = (int)v;
		h->e->gen++;
	}
	return (int)size;
}

static int fk_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
	struct entry *e;
	int a, r = lookup(path, &e, &a);

	return r ? r : (a == A_INBLOB || a == A_PRIVLEVEL) ? 0 : -EACCES;
}

static int fk_release(const char *path, struct fuse_file_info *fi)
{
	struct handle *h = (struct handle *)(uintptr_t)fi->fh;

	/* A binary attribute is applied when its writer closes it. */
	if (h->attr == A_INBLOB && (fi->flags & O_ACCMODE) != O_RDONLY) {
		memcpy(h->e->inblob, h->buf, h->len);
		h->e->inblob_len = h->len;
		h->e->gen++;
	}
	free(h);
	return 0;
}

static int fk_create(const char *path, mode_t mode, struct fuse_file_info *fi) { return -EPERM; }
static int fk_unlink(const char *path) { return -EPERM; }

static const struct fuse_operations ops = {
	.getattr = fk_getattr,
	.readdir = fk_readdir,
	.mkdir = fk_mkdir,
	.rmdir = fk_rmdir,
	.open = fk_open,
	.read = fk_read,
	.write = fk_write,
	.truncate = fk_truncate,
	.release = fk_release,
	.create = fk_create,
	.unlink = fk_unlink,
};

int main(int argc, char **argv)
{
	char *fargv[8];
	int fargc = 0;

	if (argc < 2)
		goto usage;
	fk.provider = "sev_guest";
	for (int i = 2; i < argc; i++) {
		if (strcmp(argv[i], "--sim-dir") == 0 && i + 1 < argc)
			fk.sim_dir = argv[++i];
		else if (strcmp(argv[i], "--provider") == 0 && i + 1 < argc)
			fk.provider = argv[++i];
		else if (strcmp(argv[i], "--fault") == 0 && i + 1 < argc)
			fk.fault = argv[++i];
		else if (strcmp(argv[i], "--sim-measurement") == 0 && i + 1 < argc) {
			if (kg_unhex(fk.measurement, 48, argv[++i]) != KG_OK)
				goto usage;
		} else
			goto usage;
	}
	if (!fk.sim_dir || (strcmp(fk.provider, "sev_guest") != 0 && strcmp(fk.provider, "tdx_guest") != 0 &&
			    strcmp(fk.provider, "none") != 0))
		goto usage;
	fargv[fargc++] = argv[0];
	fargv[fargc++] = "-f"; /* foreground: the test owns the process */
	fargv[fargc++] = "-s"; /* one thread: the table needs no lock */
	fargv[fargc++] = argv[1];
	fargv[fargc] = NULL;
	return fuse_main(fargc, fargv, &ops, NULL);
usage:
	fprintf(stderr, "usage: fake_tsm MOUNTPOINT --sim-dir DIR --provider sev_guest|tdx_guest|none "
			"[--sim-measurement HEX] [--fault race|short|other-inblob]\n");
	return 2;
}
