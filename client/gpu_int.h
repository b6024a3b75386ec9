/*
 * Folder-private: what client/gpu.c shares with client/nscq.c, the two
 * sources that load NVIDIA's libraries at run time.
 */
#ifndef KG_CLIENT_GPU_INT_H
#define KG_CLIENT_GPU_INT_H

#include <stdbool.h>

#include "gpu.h"

/* Formats the operator's diagnostic into d->msg (truncated to fit). */
void kg_client_gpu_diag_set(struct kg_client_gpu_diag *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* dlsym into *fn (a function pointer) without converting a void * to a
 * function pointer type, which ISO C leaves undefined; *missing names the
 * first symbol not found (unchanged when it already names one). */
bool kg_client_gpu_sym(void *lib, const char *name, void *fn, const char **missing);

#endif
