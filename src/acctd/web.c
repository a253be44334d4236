/*
 * The admin page: plain HTML, CSS and JavaScript from web/, embedded into
 * the binary (tools/embed-web.sh). Served with a strict
 * Content-Security-Policy (no inline script or style, nothing from
 * elsewhere except avatar images, which are the users' own URLs).
 *
 * Weight and caching: every asset is also embedded gzip-compressed at build
 * time and sent so to a browser that accepts it (no compression at run
 * time). index.html names the other assets by content-hashed names, which
 * are cached for a year as immutable: a warm reload costs one revalidation
 * of index.html (304) and nothing for the rest. index.html and the plain
 * names are no-cache, answered 304 for a matching If-None-Match (weak
 * comparison, lists and "*").
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "acctd.h"

static const char web_csp[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; "
    "style-src 'self'; img-src 'self' https: http: data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'\r\n";

/* an entity tag without W/ and quotes: [p, p + n) */
static int
web_etag_eq(const char *p, size_t n, const char *etag)
{
	size_t el = strlen(etag);

	if (el >= 2 && etag[0] == '"') {
		etag++;
		el -= 2;
	}
	return n == el && strncmp(p, etag, n) == 0;
}

int
web_etag_match(const char *inm, const char *etag)
{
	const char *p = inm;

	if (inm == NULL)
		return 0;
	for (;;) {
		size_t n;

		while (*p == ' ' || *p == '\t' || *p == ',')
			p++;
		if (*p == '\0')
			return 0;
		if (*p == '*')
			return 1;
		if (p[0] == 'W' && p[1] == '/')
			p += 2;
		if (*p != '"')
			return 0;          /* not a list of entity tags */
		p++;
		n = strcspn(p, "\"");
		if (p[n] != '"')
			return 0;
		if (web_etag_eq(p, n, etag))
			return 1;
		p += n + 1;
	}
}

int
web_accepts_gzip(const char *ae)
{
	const char *p = ae;

	while (p != NULL && (p = strcasestr(p, "gzip")) != NULL) {
		const char *e = p + 4, *q;

		p = e;
		if (!(p - 4 == ae || strchr(" ,\t", p[-5]) != NULL) ||
		    !(*e == '\0' || strchr(",; \t", *e) != NULL))
			continue;          /* part of another coding's name */
		/* "gzip;q=0" (or 0.0, 0.000) refuses it */
		q = strstr(e, "q=");
		if (q != NULL && q < e + strcspn(e, ",") && strtod(q + 2, NULL) <= 0.0)
			return 0;
		return 1;
	}
	return 0;
}

static void
web_send(struct http_req *r, const struct web_asset *a)
{
	int gz = a->gz != NULL && web_accepts_gzip(http_header(r, "Accept-Encoding"));
	char hdr[1024], etag[48];

	if (gz)
		snprintf(etag, sizeof(etag), "%.*s-gz\"", (int)strlen(a->etag) - 1, a->etag);
	else
		snprintf(etag, sizeof(etag), "%s", a->etag);
	snprintf(hdr, sizeof(hdr), "%sETag: %s\r\nCache-Control: %s\r\n%s%s",
	    web_csp, etag, a->immutable ? "public, max-age=31536000, immutable" : "no-cache",
	    a->gz ? "Vary: Accept-Encoding\r\n" : "", gz ? "Content-Encoding: gzip\r\n" : "");
	if (web_etag_match(http_header(r, "If-None-Match"), etag)) {
		/* no Content-Encoding on a 304: there is no body */
		snprintf(hdr, sizeof(hdr), "%sETag: %s\r\nCache-Control: %s\r\n%s",
		    web_csp, etag, a->immutable ? "public, max-age=31536000, immutable" : "no-cache",
		    a->gz ? "Vary: Accept-Encoding\r\n" : "");
		http_reply(r, 304, a->ctype, hdr, "", 0);
		return;
	}
	if (gz)
		http_reply(r, 200, a->ctype, hdr, a->gz, a->gzlen);
	else
		http_reply(r, 200, a->ctype, hdr, a->data, a->len);
}

void
web_index(struct http_req *r)
{
	for (const struct web_asset *a = web_assets; a->path; a++) {
		if (strcmp(a->path, "/index.html") == 0) {
			web_send(r, a);
			return;
		}
	}
	http_problem(r, 404, "this build has no admin page", NULL);
}

void
web_asset(struct http_req *r)
{
	char path[128];

	snprintf(path, sizeof(path), "/%s", r->params[0]);
	for (const struct web_asset *a = web_assets; a->path; a++) {
		if (strcmp(a->path, path) == 0) {
			web_send(r, a);
			return;
		}
	}
	http_problem(r, 404, "no such asset", NULL);
}

/* the page's bytes as sent uncompressed, each asset once */
size_t
web_total_size(void)
{
	size_t n = 0;

	for (const struct web_asset *a = web_assets; a->path; a++)
		if (!a->immutable)
			n += a->len;
	return n;
}
