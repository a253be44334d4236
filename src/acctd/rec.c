/*
 * Compact binary records, for what the authenticated path reads on every
 * request (sessions, tokens): parsing JSON there was most of its cost.
 *
 *   version byte, then the fields in the order the record type writes them:
 *   integers as 8 bytes little-endian, strings as a 2-byte little-endian
 *   length (0xffff = NULL) and their bytes (no NUL), byte strings as is.
 *
 * A JSON record begins with '{' and a binary one with its version (never
 * '{'), so a reader tells a record written by an older build by its first
 * byte and keeps reading it (nothing is migrated: a record is rewritten in
 * this form when it is next saved). A reader that runs past the end, or
 * leaves bytes over, has a corrupt record.
 */
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

#define REC_NULL 0xffffu

static void
rec_need(struct rec *w, size_t n)
{
	size_t cap = w->cap ? w->cap : 128;
	uint8_t *nb;

	if (w->len + n <= w->cap)
		return;
	while (cap < w->len + n)
		cap *= 2;
	/* not realloc: the old buffer may hold a secret and is wiped */
	nb = x_malloc(cap);
	if (w->len)
		memcpy(nb, w->buf, w->len);
	rec_free(w);
	w->buf = nb;
	w->cap = cap;
}

void
rec_init(struct rec *w, uint8_t version)
{
	memset(w, 0, sizeof(*w));
	rec_u8(w, version);
}

void
rec_free(struct rec *w)
{
	if (w->buf != NULL) {
		crypto_wipe(w->buf, w->cap);
		free(w->buf);
	}
	w->buf = NULL;
	w->cap = 0;
}

void
rec_bytes(struct rec *w, const void *p, size_t n)
{
	size_t len = w->len;

	rec_need(w, n);
	if (n)
		memcpy(w->buf + len, p, n);
	w->len = len + n;
}

void
rec_u8(struct rec *w, uint8_t v)
{
	rec_bytes(w, &v, 1);
}

void
rec_i64(struct rec *w, int64_t v)
{
	uint64_t u = (uint64_t)v;
	uint8_t b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(u >> (8 * i));
	rec_bytes(w, b, sizeof(b));
}

void
rec_str(struct rec *w, const char *s)
{
	size_t n = s ? strlen(s) : REC_NULL;
	uint8_t b[2];

	if (n >= REC_NULL)       /* longer than a record holds: store NULL */
		n = REC_NULL;
	b[0] = (uint8_t)(n & 0xff);
	b[1] = (uint8_t)(n >> 8);
	rec_bytes(w, b, 2);
	if (n != REC_NULL)
		rec_bytes(w, s, n);
}

int
rec_open(struct rec_in *r, const void *buf, size_t len, uint8_t version)
{
	r->p = buf;
	r->left = len;
	r->bad = 0;
	if (len == 0 || r->p[0] != version)
		return -1;
	r->p++;
	r->left--;
	return 0;
}

static const uint8_t *
rec_take(struct rec_in *r, size_t n)
{
	const uint8_t *p = r->p;

	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	r->p += n;
	r->left -= n;
	return p;
}

void
rec_get_bytes(struct rec_in *r, void *out, size_t n)
{
	const uint8_t *p = rec_take(r, n);

	if (p != NULL)
		memcpy(out, p, n);
	else
		memset(out, 0, n);
}

uint8_t
rec_get_u8(struct rec_in *r)
{
	uint8_t v;

	rec_get_bytes(r, &v, 1);
	return v;
}

int64_t
rec_get_i64(struct rec_in *r)
{
	uint8_t b[8];
	uint64_t u = 0;

	rec_get_bytes(r, b, sizeof(b));
	for (int i = 7; i >= 0; i--)
		u = (u << 8) | b[i];
	return (int64_t)u;
}

/* the string's bytes and length, or NULL (absent, or past the end) */
static const char *
rec_get_span(struct rec_in *r, size_t *n, int *null)
{
	uint8_t b[2];

	rec_get_bytes(r, b, 2);
	*n = (size_t)b[0] | (size_t)b[1] << 8;
	*null = !r->bad && *n == REC_NULL;
	if (r->bad || *null)
		return NULL;
	return (const char *)rec_take(r, *n);
}

int
rec_get_str(struct rec_in *r, char *out, size_t outlen)
{
	const char *p;
	size_t n;
	int null;

	out[0] = '\0';
	p = rec_get_span(r, &n, &null);
	if (null)
		return 1;
	if (p == NULL || n >= outlen || memchr(p, '\0', n) != NULL) {
		r->bad = 1;
		return -1;
	}
	memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

char *
rec_get_strdup(struct rec_in *r)
{
	const char *p;
	char *s;
	size_t n;
	int null;

	p = rec_get_span(r, &n, &null);
	if (p == NULL || memchr(p, '\0', n) != NULL) {
		if (!null)
			r->bad = 1;
		return NULL;
	}
	s = x_malloc(n + 1);
	memcpy(s, p, n);
	s[n] = '\0';
	return s;
}

int
rec_done(const struct rec_in *r)
{
	return r->bad || r->left != 0 ? -1 : 0;
}
