/*
 * The admin page: plain HTML, CSS and JavaScript from web/, embedded into
 * the binary. Served with a strict Content-Security-Policy (no inline script
 * or style, nothing from elsewhere except avatar images, which are the
 * users' own URLs) and ETags, so the browser revalidates cheaply.
 */
#include <string.h>

#include "acctd.h"

static const char web_csp[] =
    "Content-Security-Policy: default-src 'self'; script-src 'self'; "
    "style-src 'self'; img-src 'self' https: http: data:; connect-src 'self'; "
    "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'\r\n";

static void
web_send(struct http_req *r, const struct web_asset *a)
{
	const char *inm = http_header(r, "If-None-Match");
	char hdr[1024];

	snprintf(hdr, sizeof(hdr), "%sETag: %s\r\nCache-Control: no-cache\r\n",
	    web_csp, a->etag);
	if (inm != NULL && strcmp(inm, a->etag) == 0) {
		http_reply(r, 304, a->ctype, hdr, "", 0);
		return;
	}
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

size_t
web_total_size(void)
{
	size_t n = 0;

	for (const struct web_asset *a = web_assets; a->path; a++)
		n += a->len;
	return n;
}
