#include "err.h"

#include <string.h>

struct kg_err_row {
	const char *code;
	const char *msg;
	int http;
	int denial;
};

static const struct kg_err_row kg_err_rows[KG_ERR__COUNT] = {
#define KG_X_ROW(name, code, http, denial, msg) [KG_ERR_##name] = {code, msg, http, denial},
	KG_ERRORS(KG_X_ROW)
#undef KG_X_ROW
};

static const struct kg_err_row *row(kg_err e)
{
	if ((unsigned)e >= KG_ERR__COUNT)
		e = KG_ERR_INTERNAL;
	return &kg_err_rows[e];
}

const char *kg_err_code(kg_err e) { return row(e)->code; }
const char *kg_err_msg(kg_err e) { return row(e)->msg; }
int kg_err_http(kg_err e) { return row(e)->http; }
int kg_err_is_denial(kg_err e) { return row(e)->denial; }

kg_err kg_err_from_code(const char *code)
{
	for (unsigned i = 0; i < KG_ERR__COUNT; i++)
		if (strcmp(kg_err_rows[i].code, code) == 0)
			return (kg_err)i;
	return KG_ERR__COUNT;
}
