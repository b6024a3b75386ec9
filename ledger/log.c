/*
 * The operator side of a ledger (see log.h): a log kept as static files in
 * the C2SP tlog-tiles layout (c2sp.org/tlog-tiles §APIs).
 *
 * Simplifications, documented in docs/ledger.md: the whole log is read
 * into memory for each command (fine for logs of a few million entries);
 * the entry bundles are the source of truth and every tile is recomputed
 * from them, with the result checked against the signed checkpoint before
 * anything is written; old partial tiles are kept (the spec allows it).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sodium.h>

#include "../common/util.h"
#include "internal.h"
#include "log.h"

#define TILE_W 256u
#define MAX_LOG_ENTRIES (1u << 26) /* memory bound for one command */
#define MAX_PENDING (4u << 20)     /* bytes of entries between checkpoints */

/* ---- small helpers ---- */

struct sbuf {
	char *p;
	size_t len, cap;
};

static kg_err sb_add(struct sbuf *b, const void *d, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		char *q;
		while (cap < b->len + n + 1)
			cap *= 2;
		KG_ENSURE((q = realloc(b->p, cap)) != NULL, KG_ERR_NOMEM);
		b->p = q;
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	b->p[b->len] = 0;
	return KG_OK;
}

__attribute__((format(printf, 2, 3))) static kg_err sb_printf(struct sbuf *b, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	KG_ENSURE(n >= 0 && (size_t)n < sizeof tmp, KG_ERR_INTERNAL);
	return sb_add(b, tmp, (size_t)n);
}

static kg_err sb_hash(struct sbuf *b, const uint8_t h[static 32])
{
	char b64[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_ORIGINAL)];

	sodium_bin2base64(b64, sizeof b64, h, 32, sodium_base64_VARIANT_ORIGINAL);
	return sb_printf(b, "%s\n", b64);
}

__attribute__((format(printf, 3, 4))) static kg_err path_fmt(char *out, size_t cap, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(out, cap, fmt, ap);
	va_end(ap);
	KG_ENSURE(n > 0 && (size_t)n < cap, KG_ERR_INVALID_ARG);
	return KG_OK;
}

/* mkdir -p of every directory above path's last component. */
static kg_err mkdirs_for(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	KG_ENSURE(n < sizeof tmp, KG_ERR_INVALID_ARG);
	memcpy(tmp, path, n + 1);
	for (size_t i = 1; i < n; i++) {
		if (tmp[i] != '/')
			continue;
		tmp[i] = 0;
		KG_ENSURE(mkdir(tmp, 0755) == 0 || errno == EEXIST, KG_ERR_IO);
		tmp[i] = '/';
	}
	return KG_OK;
}

static kg_err write_public(const char *path, const void *d, size_t n)
{
	KG_TRY(mkdirs_for(path));
	return kg_file_write(path, d, n, 0644);
}

/* tlog-tiles §Merkle Tree: N as zero-padded 3-digit path elements, all
 * but the last prefixed with "x" (1234067 -> x001/x234/067). */
static kg_err tile_path(char *out, size_t cap, const char *dir, const char *level, uint64_t n, unsigned width)
{
	unsigned groups[8];
	size_t ng = 0;
	char idx[64] = "", part[16];

	do {
		groups[ng++] = (unsigned)(n % 1000);
		n /= 1000;
	} while (n > 0);
	for (size_t i = ng; i-- > 0;) {
		snprintf(part, sizeof part, i ? "x%03u/" : "%03u", groups[i]);
		strcat(idx, part);
	}
	if (width)
		return path_fmt(out, cap, "%s/public/tile/%s/%s.p/%u", dir, level, idx, width);
	return path_fmt(out, cap, "%s/public/tile/%s/%s", dir, level, idx);
}

static int lock_dir(const char *dir)
{
	char p[PATH_MAX];
	int fd;

	if (path_fmt(p, sizeof p, "%s/lock", dir) != KG_OK)
		return -1;
	if ((fd = open(p, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0)
		return -1;
	if (flock(fd, LOCK_EX) != 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static void unlock_dir(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* ---- the state of a log ---- */

struct log_state {
	struct kg_ledger_key key;
	char origin[KG_LEDGER_MAX_NAME + 1];
	uint64_t size;
	uint8_t root[32];
	uint8_t *cp; /* the checkpoint file */
	size_t cp_len;
	uint8_t *ents; /* entries, each u16be length-prefixed (a bundle) */
	size_t ents_len;
	size_t *off; /* offset of entry i's bytes in ents */
	size_t *elen;
	uint8_t (*leaves)[32];
	uint64_t n; /* entries held (size, plus pending while checkpointing) */
	uint64_t cap; /* room in off, elen, leaves */
};

static void state_free(struct log_state *s)
{
	free(s->cp);
	free(s->ents);
	free(s->off);
	free(s->elen);
	free(s->leaves);
	memset(s, 0, sizeof *s);
}

static kg_err read_vkey(const char *dir, struct kg_ledger_key *k)
{
	char p[PATH_MAX];
	uint8_t *buf = NULL;
	size_t len = 0;
	kg_err rc;

	KG_TRY(path_fmt(p, sizeof p, "%s/ledger.vkey", dir));
	KG_TRY(kg_file_read(p, 1024, &buf, &len));
	while (len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = 0;
	rc = kg_ledger_vkey_parse((const char *)buf, k);
	free(buf);
	return rc;
}

/* Reads and checks the current checkpoint (signed by the log's key). */
static kg_err load_checkpoint(const char *dir, struct log_state *s)
{
	char p[PATH_MAX];
	struct kg_ledger_note *note = NULL;
	struct kg_ledger_note_check check;
	struct kg_ledger_checkpoint cp;
	kg_err rc = KG_ERR_INTERNAL;

	KG_TRY(read_vkey(dir, &s->key));
	KG_TRY(path_fmt(p, sizeof p, "%s/public/checkpoint", dir));
	KG_TRY(kg_file_read(p, KG_LEDGER_MAX_NOTE, &s->cp, &s->cp_len));
	KG_ENSURE((note = malloc(sizeof *note)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_ledger_note_parse(s->cp, s->cp_len, note));
	KG_TRY_OUT(kg_ledger_note_verify(note, &s->key, 1, &check));
	KG_TRY_OUT(kg_ledger_checkpoint_parse(note->text, &cp));
	KG_TRY_OUT(kg_ltext_str(cp.origin, s->origin, sizeof s->origin));
	s->size = cp.size;
	memcpy(s->root, cp.root, 32);
	KG_ENSURE_OUT(s->size <= MAX_LOG_ENTRIES, KG_ERR_TOO_LARGE);
out:
	free(note);
	return rc;
}

/* Appends the entries of a u16be-length-prefixed bundle to the state. */
static kg_err add_bundle(struct log_state *s, const uint8_t *buf, size_t len, uint64_t want)
{
	struct kg_cur c = kg_cur_init(buf, len);
	uint64_t got = 0;
	uint16_t n;
	const uint8_t *e;

	while (kg_cur_left(&c) > 0) {
		KG_TRY(kg_cur_u16be(&c, &n));
		KG_ENSURE(n <= KG_LEDGER_MAX_ENTRY, KG_ERR_TOO_LARGE);
		size_t pos = len - kg_cur_left(&c);
		KG_TRY(kg_cur_bytes(&c, &e, n));
		/* s->off etc. were sized by alloc_entries for every entry. */
		KG_ENSURE(s->n < s->cap, KG_ERR_TOO_LARGE);
		s->off[s->n] = s->ents_len + pos;
		s->elen[s->n] = n;
		kg_ledger_leaf_hash(e, n, s->leaves[s->n]);
		s->n++;
		got++;
	}
	KG_ENSURE(got == want, KG_ERR_IO);
	{
		/* Keep the bytes, prefixes included, for writing bundles back. */
		uint8_t *q = realloc(s->ents, s->ents_len + len + 1);
		KG_ENSURE(q != NULL, KG_ERR_NOMEM);
		s->ents = q;
		if (len)
			memcpy(s->ents + s->ents_len, buf, len);
		s->ents_len += len;
	}
	return KG_OK;
}

static kg_err alloc_entries(struct log_state *s, uint64_t total)
{
	size_t n = (size_t)(total ? total : 1);

	KG_ENSURE(total <= 2ull * MAX_LOG_ENTRIES, KG_ERR_TOO_LARGE);
	KG_ENSURE((s->off = calloc(n, sizeof *s->off)) && (s->elen = calloc(n, sizeof *s->elen)) &&
			  (s->leaves = calloc(n, sizeof *s->leaves)),
		  KG_ERR_NOMEM);
	s->cap = total;
	return KG_OK;
}

/* Loads the checkpoint and every entry under it, checking that the
 * entries hash to the signed root.  extra makes room for more entries. */
static kg_err load_log(const char *dir, struct log_state *s, uint64_t extra)
{
	char p[PATH_MAX];
	uint8_t *buf = NULL, root[32];
	size_t len = 0;
	kg_err rc = KG_OK;

	memset(s, 0, sizeof *s);
	KG_TRY(load_checkpoint(dir, s));
	KG_TRY(alloc_entries(s, s->size + extra));
	for (uint64_t t = 0; t * TILE_W < s->size; t++) {
		uint64_t w = s->size - t * TILE_W >= TILE_W ? TILE_W : s->size - t * TILE_W;
		KG_TRY(tile_path(p, sizeof p, dir, "entries", t, w == TILE_W ? 0 : (unsigned)w));
		KG_TRY(kg_file_read(p, TILE_W * (2 + KG_LEDGER_MAX_ENTRY), &buf, &len));
		rc = add_bundle(s, buf, len, w);
		free(buf);
		KG_TRY(rc);
	}
	kg_ledger_tree_root((const uint8_t(*)[32])s->leaves, s->n, root);
	/* Storage that does not match its signed checkpoint is never used. */
	KG_ENSURE(sodium_memcmp(root, s->root, 32) == 0, KG_ERR_IO);
	return KG_OK;
}

/* ---- pending entries ---- */

/* DIR/pending: u64be base tree size, then u16be-length-prefixed entries.
 * If the checkpoint already covers them (a crash after the checkpoint was
 * written), they are dropped. */
static kg_err read_pending(const char *dir, uint64_t size, uint8_t **ents, size_t *len, uint64_t *count)
{
	char p[PATH_MAX];
	uint8_t *buf = NULL;
	size_t blen = 0;
	struct kg_cur c, body;
	uint64_t base, n = 0;
	uint16_t l;
	kg_err rc = KG_OK;

	*ents = NULL, *len = 0, *count = 0;
	KG_TRY(path_fmt(p, sizeof p, "%s/pending", dir));
	if (access(p, F_OK) != 0)
		return KG_OK;
	KG_TRY(kg_file_read(p, MAX_PENDING, &buf, &blen));
	c = kg_cur_init(buf, blen);
	KG_TRY_OUT(kg_cur_u64be(&c, &base));
	body = c;
	while (kg_cur_left(&c) > 0) {
		KG_TRY_OUT(kg_cur_u16be(&c, &l));
		KG_TRY_OUT(kg_cur_skip(&c, l));
		n++;
	}
	if (base + n == size && base != size) {
		n = 0; /* already in the checkpoint */
	} else {
		KG_ENSURE_OUT(base == size, KG_ERR_IO);
		if (n) {
			KG_ENSURE_OUT((*ents = malloc(kg_cur_left(&body))) != NULL, KG_ERR_NOMEM);
			KG_TRY_OUT(kg_cur_copy(&body, *ents, kg_cur_left(&body)));
			*len = blen - 8;
		}
	}
	*count = n;
out:
	free(buf);
	return rc;
}

/* ---- commands ---- */

kg_err kg_ledger_log_init(const char *dir, const char *origin, char *vkey, size_t cap)
{
	char p[PATH_MAX], text[KG_LEDGER_MAX_NAME + 128], line[512];
	struct kg_ledger_skey *sk = NULL;
	char *skt = NULL;
	uint8_t root[32];
	size_t tlen;
	struct sbuf note = {0};
	kg_err rc = KG_ERR_INTERNAL;

	KG_ENSURE(cap > 0, KG_ERR_INVALID_ARG);
	vkey[0] = 0;
	KG_TRY(path_fmt(p, sizeof p, "%s/ledger.key", dir));
	KG_TRY(mkdirs_for(p));
	KG_ENSURE(access(p, F_OK) != 0, KG_ERR_INVALID_ARG);
	/* The origin doubles as the key name (tlog-checkpoint §Signatures). */
	KG_TRY(kg_ledger_skey_generate(origin, KG_LEDGER_SIG_ED25519, &sk));
	KG_TRY_OUT(kg_ledger_skey_format(sk, &skt));
	KG_TRY_OUT(kg_file_write(p, skt, strlen(skt), 0600));
	KG_TRY_OUT(kg_ledger_vkey_format(&sk->pub, vkey, cap));
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/ledger.vkey", dir));
	KG_TRY_OUT(sb_printf(&note, "%s\n", vkey));
	KG_TRY_OUT(kg_file_write(p, note.p, note.len, 0644));
	note.len = 0;
	/* The empty tree's checkpoint. */
	kg_ledger_empty_root(root);
	KG_TRY_OUT(kg_ledger_checkpoint_format(origin, 0, root, text, sizeof text, &tlen));
	KG_TRY_OUT(kg_ledger_sign_line(sk, (const uint8_t *)text, tlen, 0, line, sizeof line));
	KG_TRY_OUT(sb_printf(&note, "%s\n%s", text, line));
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/public/checkpoint", dir));
	KG_TRY_OUT(write_public(p, note.p, note.len));
	rc = KG_OK;
out:
	if (skt)
		sodium_free(skt);
	kg_ledger_skey_free(sk);
	free(note.p);
	return rc;
}

kg_err kg_ledger_log_add(const char *dir, const struct kg_ledger_entry *e, uint64_t *index)
{
	char p[PATH_MAX];
	uint8_t ent[KG_LEDGER_MAX_ENTRY + 1], *pend = NULL, hdr[8];
	size_t elen, plen = 0;
	uint64_t count = 0;
	struct log_state s;
	struct sbuf b = {0};
	int lock = -1;
	kg_err rc = KG_ERR_IO;

	*index = 0;
	memset(&s, 0, sizeof s);
	KG_TRY(kg_ledger_entry_format(e, ent, sizeof ent, &elen));
	KG_ENSURE((lock = lock_dir(dir)) >= 0, KG_ERR_IO);
	KG_TRY_OUT(load_checkpoint(dir, &s));
	KG_TRY_OUT(read_pending(dir, s.size, &pend, &plen, &count));
	for (int i = 0; i < 8; i++)
		hdr[i] = (uint8_t)(s.size >> (56 - 8 * i));
	KG_TRY_OUT(sb_add(&b, hdr, 8));
	KG_TRY_OUT(sb_add(&b, pend, plen));
	hdr[0] = (uint8_t)(elen >> 8), hdr[1] = (uint8_t)elen;
	KG_TRY_OUT(sb_add(&b, hdr, 2));
	KG_TRY_OUT(sb_add(&b, ent, elen));
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/pending", dir));
	KG_TRY_OUT(kg_file_write(p, b.p, b.len, 0600));
	*index = s.size + count;
	rc = KG_OK;
out:
	unlock_dir(lock);
	state_free(&s);
	free(pend);
	free(b.p);
	return rc;
}

/* Writes tile/<level>/... for hashes h[0..count) and recurses upwards. */
static kg_err write_tiles(const char *dir, const uint8_t (*h)[32], uint64_t count)
{
	char p[PATH_MAX], level[4];
	uint8_t(*up)[32] = NULL, (*next)[32] = NULL;
	const uint8_t(*cur)[32] = h;
	kg_err rc = KG_OK;

	for (unsigned l = 0; count > 0 && l < 64; l++) {
		uint64_t full = count / TILE_W, w = count % TILE_W;
		snprintf(level, sizeof level, "%u", l);
		for (uint64_t t = 0; t < full; t++) {
			KG_TRY_OUT(tile_path(p, sizeof p, dir, level, t, 0));
			/* Full tiles are immutable: write each once. */
			if (access(p, F_OK) != 0)
				KG_TRY_OUT(write_public(p, cur[t * TILE_W], TILE_W * 32));
		}
		if (w) {
			KG_TRY_OUT(tile_path(p, sizeof p, dir, level, full, (unsigned)w));
			KG_TRY_OUT(write_public(p, cur[full * TILE_W], (size_t)w * 32));
		}
		if (full == 0)
			break;
		/* Each hash one level up is the root of a full tile below. */
		KG_ENSURE_OUT((next = calloc((size_t)full, 32)) != NULL, KG_ERR_NOMEM);
		for (uint64_t t = 0; t < full; t++)
			kg_ledger_tree_root(cur + t * TILE_W, TILE_W, next[t]);
		free(up);
		up = next;
		next = NULL;
		cur = (const uint8_t(*)[32])up;
		count = full;
	}
out:
	free(up);
	free(next);
	return rc;
}

static kg_err write_entry_bundles(const char *dir, const struct log_state *s)
{
	char p[PATH_MAX];

	for (uint64_t t = 0; t * TILE_W < s->n; t++) {
		uint64_t first = t * TILE_W;
		uint64_t w = s->n - first >= TILE_W ? TILE_W : s->n - first;
		size_t from = s->off[first] - 2;
		size_t to = s->off[first + w - 1] + s->elen[first + w - 1];
		KG_TRY(tile_path(p, sizeof p, dir, "entries", t, w == TILE_W ? 0 : (unsigned)w));
		if (w == TILE_W && access(p, F_OK) == 0)
			continue;
		KG_TRY(write_public(p, s->ents + from, to - from));
	}
	return KG_OK;
}

kg_err kg_ledger_skey_read(const char *path, struct kg_ledger_skey **sk)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	kg_err rc;

	*sk = NULL;
	KG_TRY(kg_file_read(path, 1024, &buf, &len));
	rc = kg_ledger_skey_parse(buf, len, sk);
	kg_wipe(buf, len);
	free(buf);
	return rc;
}

kg_err kg_ledger_log_checkpoint(const char *dir, uint64_t *size)
{
	char p[PATH_MAX], text[KG_LEDGER_MAX_NAME + 128], line[512];
	struct log_state s;
	struct kg_ledger_skey *sk = NULL;
	uint8_t *pend = NULL;
	size_t plen = 0, tlen;
	uint64_t count = 0;
	struct sbuf note = {0};
	int lock = -1;
	kg_err rc = KG_ERR_IO;

	*size = 0;
	memset(&s, 0, sizeof s);
	KG_ENSURE((lock = lock_dir(dir)) >= 0, KG_ERR_IO);
	/* Counting pending entries needs the checkpoint's size first. */
	KG_TRY_OUT(load_checkpoint(dir, &s));
	KG_TRY_OUT(read_pending(dir, s.size, &pend, &plen, &count));
	state_free(&s);
	KG_TRY_OUT(load_log(dir, &s, count));
	KG_TRY_OUT(add_bundle(&s, pend, plen, count));
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/ledger.key", dir));
	KG_TRY_OUT(kg_ledger_skey_read(p, &sk));
	KG_ENSURE_OUT(sk->pub.id == s.key.id && sodium_memcmp(sk->pub.pk, s.key.pk, 32) == 0, KG_ERR_CONFIG);

	/* Data first, then the checkpoint that commits to it. */
	KG_TRY_OUT(write_entry_bundles(dir, &s));
	KG_TRY_OUT(write_tiles(dir, (const uint8_t(*)[32])s.leaves, s.n));
	kg_ledger_tree_root((const uint8_t(*)[32])s.leaves, s.n, s.root);
	KG_TRY_OUT(kg_ledger_checkpoint_format(s.origin, s.n, s.root, text, sizeof text, &tlen));
	KG_TRY_OUT(kg_ledger_sign_line(sk, (const uint8_t *)text, tlen, 0, line, sizeof line));
	KG_TRY_OUT(sb_printf(&note, "%s\n%s", text, line));
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/public/checkpoint", dir));
	KG_TRY_OUT(kg_file_write(p, note.p, note.len, 0644));
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/pending", dir));
	KG_ENSURE_OUT(unlink(p) == 0 || errno == ENOENT, KG_ERR_IO);
	*size = s.n;
	rc = KG_OK;
out:
	unlock_dir(lock);
	kg_ledger_skey_free(sk);
	state_free(&s);
	free(pend);
	free(note.p);
	return rc;
}

kg_err kg_ledger_key_init(const char *file, const char *name, uint8_t type, char *vkey, size_t cap)
{
	struct kg_ledger_skey *sk = NULL;
	char *skt = NULL;
	kg_err rc = KG_ERR_INTERNAL;

	KG_ENSURE(cap > 0, KG_ERR_INVALID_ARG);
	vkey[0] = 0;
	KG_ENSURE(access(file, F_OK) != 0, KG_ERR_INVALID_ARG);
	KG_TRY(kg_ledger_skey_generate(name, type, &sk));
	KG_TRY_OUT(kg_ledger_skey_format(sk, &skt));
	KG_TRY_OUT(kg_file_write(file, skt, strlen(skt), 0600));
	KG_TRY_OUT(kg_ledger_vkey_format(&sk->pub, vkey, cap));
	rc = KG_OK;
out:
	if (skt)
		sodium_free(skt);
	kg_ledger_skey_free(sk);
	return rc;
}

kg_err kg_ledger_witness_init(const char *file, const char *name, char *vkey, size_t cap)
{
	return kg_ledger_key_init(file, name, KG_LEDGER_SIG_COSIGN_V1, vkey, cap);
}

const struct kg_ledger_key *kg_ledger_skey_pub(const struct kg_ledger_skey *sk)
{
	return &sk->pub;
}

kg_err kg_ledger_checkpoint_sign(const struct kg_ledger_skey *sk, uint64_t size, const uint8_t root[static 32],
				 char *out, size_t cap, size_t *len)
{
	char text[KG_LEDGER_MAX_NAME + 128], line[512];
	size_t tlen;
	int n;

	*len = 0;
	KG_ENSURE(sk->pub.type == KG_LEDGER_SIG_ED25519, KG_ERR_INVALID_ARG);
	KG_TRY(kg_ledger_checkpoint_format(sk->pub.name, size, root, text, sizeof text, &tlen));
	KG_TRY(kg_ledger_sign_line(sk, (const uint8_t *)text, tlen, 0, line, sizeof line));
	n = snprintf(out, cap, "%s\n%s", text, line);
	KG_ENSURE(n > 0 && (size_t)n < cap, KG_ERR_TOO_LARGE);
	*len = (size_t)n;
	return KG_OK;
}

kg_err kg_ledger_log_cosign(const char *dir, const char *witness_key_file, uint64_t ts)
{
	char p[PATH_MAX], line[512];
	struct log_state s;
	struct kg_ledger_skey *sk = NULL;
	struct kg_ledger_note *note = NULL;
	struct sbuf out_note = {0};
	const uint8_t *tp;
	int lock = -1;
	kg_err rc = KG_ERR_IO;

	memset(&s, 0, sizeof s);
	KG_TRY(kg_ledger_skey_read(witness_key_file, &sk));
	KG_ENSURE_OUT(sk->pub.type == KG_LEDGER_SIG_COSIGN_V1, KG_ERR_CONFIG);
	KG_ENSURE_OUT((lock = lock_dir(dir)) >= 0, KG_ERR_IO);
	KG_TRY_OUT(load_checkpoint(dir, &s));
	KG_ENSURE_OUT((note = malloc(sizeof *note)) != NULL, KG_ERR_NOMEM);
	KG_TRY_OUT(kg_ledger_note_parse(s.cp, s.cp_len, note));
	{
		struct kg_cur text = note->text;
		size_t tlen = kg_cur_left(&text);
		KG_TRY_OUT(kg_cur_bytes(&text, &tp, tlen));
		KG_TRY_OUT(kg_ledger_sign_line(sk, tp, tlen, ts, line, sizeof line));
		KG_TRY_OUT(sb_add(&out_note, tp, tlen));
		KG_TRY_OUT(sb_add(&out_note, "\n", 1));
	}
	/* Keep every other signature line; replace this witness's own. */
	for (size_t i = 0; i < note->nsigs; i++) {
		struct kg_cur b = note->sigs[i].b64, nm = note->sigs[i].name;
		const uint8_t *np, *bp;
		size_t nl = kg_cur_left(&nm), bl = kg_cur_left(&b);
		if (note->sigs[i].id == sk->pub.id && kg_ltext_eq(nm, sk->pub.name))
			continue;
		KG_TRY_OUT(kg_cur_bytes(&nm, &np, nl));
		KG_TRY_OUT(kg_cur_bytes(&b, &bp, bl));
		KG_TRY_OUT(sb_add(&out_note, "\xE2\x80\x94 ", 4));
		KG_TRY_OUT(sb_add(&out_note, np, nl));
		KG_TRY_OUT(sb_add(&out_note, " ", 1));
		KG_TRY_OUT(sb_add(&out_note, bp, bl));
		KG_TRY_OUT(sb_add(&out_note, "\n", 1));
	}
	KG_TRY_OUT(sb_add(&out_note, line, strlen(line)));
	KG_ENSURE_OUT(out_note.len <= KG_LEDGER_MAX_NOTE, KG_ERR_TOO_LARGE);
	KG_TRY_OUT(path_fmt(p, sizeof p, "%s/public/checkpoint", dir));
	KG_TRY_OUT(kg_file_write(p, out_note.p, out_note.len, 0644));
	rc = KG_OK;
out:
	unlock_dir(lock);
	kg_ledger_skey_free(sk);
	state_free(&s);
	free(note);
	free(out_note.p);
	return rc;
}

/* The tlog-proof for entry i of a loaded log. */
static kg_err make_proof(const struct log_state *s, uint64_t i, char **out, size_t *len)
{
	uint8_t path[KG_LEDGER_MAX_PROOF][32];
	size_t n = 0;
	struct sbuf b = {0};
	char *b64 = NULL;
	size_t b64len = sodium_base64_ENCODED_LEN(KG_LEDGER_MAX_ENTRY, sodium_base64_VARIANT_ORIGINAL);
	kg_err rc = KG_ERR_INTERNAL;

	KG_TRY(kg_ledger_tree_inclusion((const uint8_t(*)[32])s->leaves, s->n, i, path, &n));
	KG_ENSURE((b64 = malloc(b64len)) != NULL, KG_ERR_NOMEM);
	sodium_bin2base64(b64, b64len, s->ents + s->off[i], s->elen[i], sodium_base64_VARIANT_ORIGINAL);
	KG_TRY_OUT(sb_printf(&b, "c2sp.org/tlog-proof@v1\n"));
	KG_TRY_OUT(sb_add(&b, "extra ", 6));
	KG_TRY_OUT(sb_add(&b, b64, strlen(b64)));
	KG_TRY_OUT(sb_printf(&b, "\nindex %" PRIu64 "\n", i));
	for (size_t k = 0; k < n; k++)
		KG_TRY_OUT(sb_hash(&b, path[k]));
	KG_TRY_OUT(sb_add(&b, "\n", 1));
	KG_TRY_OUT(sb_add(&b, s->cp, s->cp_len));
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	rc = KG_OK;
out:
	free(b64);
	free(b.p);
	return rc;
}

kg_err kg_ledger_log_proof(const char *dir, uint64_t index, char **out, size_t *len)
{
	struct log_state s;
	kg_err rc;

	*out = NULL, *len = 0;
	rc = load_log(dir, &s, 0);
	if (rc == KG_OK)
		rc = index < s.n ? make_proof(&s, index, out, len) : KG_ERR_INVALID_ARG;
	state_free(&s);
	return rc;
}

kg_err kg_ledger_log_bundle(const char *dir, const char *tee, const uint8_t *m, size_t mlen, char **out,
			    size_t *len, bool *revoked)
{
	struct log_state s;
	struct kg_ledger_entry e;
	struct kg_ledger_digest d;
	uint64_t found = UINT64_MAX;
	kg_err rc;

	*out = NULL, *len = 0, *revoked = false;
	KG_ENSURE(mlen == kg_ledger_tee_measurement_len(tee) && strlen(tee) < sizeof d.tee, KG_ERR_INVALID_ARG);
	memset(&d, 0, sizeof d);
	strcpy(d.tee, tee);
	memcpy(d.measurement, m, mlen);
	d.measurement_len = mlen;
	if ((rc = load_log(dir, &s, 0)) != KG_OK) {
		state_free(&s);
		return rc;
	}
	for (uint64_t i = 0; i < s.n; i++) {
		if (kg_ledger_entry_parse(s.ents + s.off[i], s.elen[i], &e) != KG_OK)
			continue;
		if (kg_ledger_check_revoked(&d, 1, &e) == KG_OK)
			continue; /* another digest */
		if (e.kind == KG_LEDGER_RELEASE) {
			found = i;
			*revoked = false;
		} else if (found != UINT64_MAX) {
			*revoked = true;
		}
	}
	rc = found == UINT64_MAX ? KG_ERR_LEDGER_NOT_IN_LEDGER : make_proof(&s, found, out, len);
	state_free(&s);
	return rc;
}

kg_err kg_ledger_log_consistency(const char *dir, uint64_t old_size, char **out, size_t *len)
{
	struct log_state s;
	uint8_t path[KG_LEDGER_MAX_PROOF][32];
	size_t n = 0;
	struct sbuf b = {0};
	kg_err rc = KG_ERR_INTERNAL;

	*out = NULL, *len = 0;
	KG_TRY_OUT(load_log(dir, &s, 0));
	KG_ENSURE_OUT(old_size <= s.n, KG_ERR_INVALID_ARG);
	KG_TRY_OUT(kg_ledger_tree_consistency((const uint8_t(*)[32])s.leaves, s.n, old_size, path, &n));
	KG_TRY_OUT(sb_printf(&b, "old %" PRIu64 "\n", old_size));
	for (size_t k = 0; k < n; k++)
		KG_TRY_OUT(sb_hash(&b, path[k]));
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	rc = KG_OK;
out:
	state_free(&s);
	free(b.p);
	return rc;
}

kg_err kg_ledger_log_revoked(const char *dir, char **out, size_t *len)
{
	struct log_state s;
	struct kg_ledger_entry e;
	struct sbuf b = {0};
	char hex[2 * KG_LEDGER_MAX_MEASUREMENT + 1];
	kg_err rc = KG_OK;

	*out = NULL, *len = 0;
	KG_TRY_OUT(load_log(dir, &s, 0));
	KG_TRY_OUT(sb_add(&b, "", 0));
	for (uint64_t i = 0; i < s.n; i++) {
		if (kg_ledger_entry_parse(s.ents + s.off[i], s.elen[i], &e) != KG_OK || e.kind != KG_LEDGER_REVOKE)
			continue;
		kg_hex(hex, e.measurement, e.measurement_len);
		KG_TRY_OUT(sb_printf(&b, "%s %s\n", e.tee, hex));
	}
	*out = b.p;
	*len = b.len;
	b.p = NULL;
	rc = KG_OK;
out:
	state_free(&s);
	free(b.p);
	return rc;
}
