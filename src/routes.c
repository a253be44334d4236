/*
 * The route table: every path acctd answers, who may call it, and the
 * handler. Handlers validate all input before touching the store.
 * tests/api checks openapi.json against this table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "acctd.h"

static void
routes_healthz(struct http_req *r)
{
	struct json *j = json_object();

	json_set_str(j, "status", "ok");
	json_set_str(j, "version", ACCTD_VERSION);
	http_reply_json(r, 200, j);
	json_free(j);
}

static void
routes_metrics(struct http_req *r)
{
	char buf[1024];
	int n;

	n = snprintf(buf, sizeof(buf),
	    "# HELP acctd_up 1 while acctd serves requests.\n"
	    "# TYPE acctd_up gauge\n"
	    "acctd_up 1\n"
	    "# HELP acctd_start_time_seconds Unix time acctd started.\n"
	    "# TYPE acctd_start_time_seconds gauge\n"
	    "acctd_start_time_seconds %" PRId64 "\n"
	    "# HELP acctd_http_requests_total HTTP requests received.\n"
	    "# TYPE acctd_http_requests_total counter\n"
	    "acctd_http_requests_total %" PRIu64 "\n",
	    app.started_at, http_requests_total());
	http_reply(r, 200, "text/plain; version=0.0.4", "Cache-Control: no-store\r\n",
	    buf, (size_t)n);
}

const struct http_route routes[] = {
	{ "GET", "/healthz", HTTP_AUTH_ANYONE, routes_healthz, "Liveness" },
	{ "GET", "/metrics", HTTP_AUTH_ANYONE, routes_metrics, "Prometheus text metrics" },
	{ NULL, NULL, HTTP_AUTH_ANYONE, NULL, NULL },
};
