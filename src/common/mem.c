/*
 * Allocation that never returns NULL: on an appliance, running out of memory
 * is not a condition a request handler can recover from meaningfully, so we
 * stop loudly instead of carrying on with half a state.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common.h"

static void
mem_oom(size_t n)
{
	fprintf(stderr, "acctd: out of memory (%zu bytes)\n", n);
	abort();
}

void *
x_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		mem_oom(n);
	return p;
}

void *
x_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		mem_oom(n * size);
	return p;
}

void *
x_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		mem_oom(n);
	return q;
}

char *
x_strdup(const char *s)
{
	size_t n = strlen(s) + 1;

	return memcpy(x_malloc(n), s, n);
}

char *
x_asprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		mem_oom(0);
	p = x_malloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}
