/* Reading ../shared/vectors from unit tests (include after cmocka.h). */
#ifndef KG_TEST_VECTORS_H
#define KG_TEST_VECTORS_H

#include <stdio.h>
#include <stdlib.h>

#include "../../common/util.h"

struct blob {
	uint8_t *p;
	size_t len;
};

/* $KG_VECTORS/rel (meson sets KG_VECTORS); fails the test when unreadable. */
static inline struct blob vec_read(const char *rel)
{
	const char *root = getenv("KG_VECTORS");
	char path[512];
	struct blob b = {NULL, 0};

	if (root == NULL)
		root = "/work/shared/vectors";
	snprintf(path, sizeof path, "%s/%s", root, rel);
	if (kg_file_read(path, 1 << 20, &b.p, &b.len) != KG_OK)
		fail_msg("cannot read vector %s", path);
	return b;
}

static inline void blob_free(struct blob *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

#endif
