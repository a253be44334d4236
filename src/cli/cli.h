/*
 * cli.h — acctd-cli, the user's command line client of acctd's API
 * (docs/api.md): cli_main (the commands) and cli_http (one HTTPS request
 * per call, verifying the server against a pinned certificate). Links
 * common's objects and mbedTLS; no LMDB, no civetweb, nothing of acctd's.
 */
#ifndef ACCTD_CLI_H
#define ACCTD_CLI_H

#include "common.h"

/* where and how to reach acctd: from ACCTD_URL, ACCTD_TOKEN, ACCTD_CA (or
 * --ca). The token is a secret: cli_http never logs or prints it. */
struct cli_target {
	char host[256];
	char port[8];
	const char *token;
	const char *ca;            /* the pinned certificate (PEM file) */
};

/* "https://host[:port]" (no path) into t; -1 and why in err */
int cli_http_url(const char *url, struct cli_target *t, char *err, size_t errlen);

/* one request: method and path, a JSON body or NULL. 0: *status and *out
 * (the answer's JSON, NULL when it had none: json_free it) filled; -1 with
 * why in err (connection, TLS, certificate, malformed answer). */
int cli_http_request(const struct cli_target *t, const char *method, const char *path,
    const char *body, int *status, struct json **out, char *err, size_t errlen);

#endif
