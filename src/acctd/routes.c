/*
 * The route table: every path acctd answers, who may call it, and the
 * handler. Handlers validate all input before touching the store.
 * tests/api checks openapi.json against this table.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
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
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (f == NULL) {
		http_problem(r, 500, "out of memory", NULL);
		return;
	}
	fprintf(f, "# HELP acctd_up 1 while acctd serves requests.\n"
	    "# TYPE acctd_up gauge\n"
	    "acctd_up 1\n"
	    "# HELP acctd_start_time_seconds Unix time acctd started.\n"
	    "# TYPE acctd_start_time_seconds gauge\n"
	    "acctd_start_time_seconds %" PRId64 "\n"
	    "# HELP acctd_http_requests_total HTTP requests received.\n"
	    "# TYPE acctd_http_requests_total counter\n"
	    "acctd_http_requests_total %" PRIu64 "\n",
	    app.started_at, http_requests_total());
	push_metrics(f);
	fprintf(f, "# HELP acctd_tls_cert_expiry_seconds Seconds until the "
	    "certificate's notAfter.\n"
	    "# TYPE acctd_tls_cert_expiry_seconds gauge\n"
	    "acctd_tls_cert_expiry_seconds{cert=\"tls\"} %" PRId64 "\n",
	    http_tls_not_after() - app_now());
	push_tls_metrics(f);
	store_metrics(app.store, f);
	audit_metrics(app.store, f);
	forward_metrics(f);
	fclose(f);
	http_reply(r, 200, "text/plain; version=0.0.4", "Cache-Control: no-store\r\n",
	    buf, len);
	free(buf);
}

/* the OpenAPI document, embedded at build time from docs/openapi.json */
extern const char openapi_json[];
extern const size_t openapi_json_len;

void
api_openapi(struct http_req *r)
{
	http_reply(r, 200, "application/json", "Cache-Control: no-cache\r\n",
	    openapi_json, openapi_json_len);
}

#define U "/api/v0/user/{handle}"
#define A "/api/v0/admin"
/*
 * The scope column (docs/api.md "Token scopes"): which API token scopes may
 * call the route. Routes anyone may call need no token, so every scope may;
 * a `read` token calls the GET routes; a `connect` token only learns who it
 * is and reads the user's workspaces with their connection strings.
 */
#define S_FULL HTTP_SCOPE_FULL
#define S_READ (HTTP_SCOPE_FULL | HTTP_SCOPE_READ)
#define S_ALL (HTTP_SCOPE_FULL | HTTP_SCOPE_READ | HTTP_SCOPE_CONNECT)
const struct http_route routes[] = {
	{ "GET", "/", HTTP_AUTH_ANYONE, S_ALL, web_index, "The admin page" },
	{ "GET", "/assets/{name}", HTTP_AUTH_ANYONE, S_ALL, web_asset, "The admin page's scripts, styles and images" },
	{ "GET", "/healthz", HTTP_AUTH_ANYONE, S_ALL, routes_healthz, "Liveness" },
	{ "GET", "/metrics", HTTP_AUTH_METRICS, S_READ, routes_metrics, "Prometheus text metrics" },
	{ "GET", "/api/v0/openapi.json", HTTP_AUTH_ANYONE, S_ALL, api_openapi, "This API's OpenAPI 3 description" },
	{ "POST", "/api/v0/login", HTTP_AUTH_ANYONE, S_ALL, api_login, "Console sign-in" },
	{ "POST", "/api/v0/logout", HTTP_AUTH_USER, S_FULL, api_logout, "Sign out" },
	{ "GET", "/api/v0/actor", HTTP_AUTH_USER, S_ALL, api_actor_get, "The signed-in user" },
	{ "GET", U, HTTP_AUTH_SELF, S_READ, api_user_get, "A user's profile" },
	{ "PATCH", U, HTTP_AUTH_SELF, S_FULL, api_user_patch, "Change display name, avatar URL or handle" },
	{ "DELETE", U, HTTP_AUTH_SELF, S_FULL, api_user_delete, "Delete the account permanently" },
	{ "POST", U "/token_reset", HTTP_AUTH_SELF, S_FULL, api_user_token_reset, "Revoke every token and session issued before now" },
	{ "PUT", U "/console_password", HTTP_AUTH_SELF, S_FULL, api_user_console_password, "Change the console password" },
	{ "GET", U "/audit", HTTP_AUTH_SELF, S_READ, api_user_audit, "The user's audit log, newest first" },
	{ "GET", U "/password", HTTP_AUTH_SELF, S_READ, api_password_get, "The database password, its version and creation time" },
	{ "POST", U "/password", HTTP_AUTH_SELF, S_FULL, api_password_rotate, "Rotate the database password" },
	{ "GET", U "/workspace", HTTP_AUTH_SELF, S_ALL, api_workspace_list, "The user's workspaces with DNS names and connection strings" },
	{ "GET", U "/token", HTTP_AUTH_SELF, S_READ, api_token_list, "The user's API tokens" },
	{ "POST", U "/token", HTTP_AUTH_SELF, S_FULL, api_token_create, "Create an API token (the full token is shown once)" },
	{ "GET", U "/token/{id}", HTTP_AUTH_SELF, S_READ, api_token_get, "One API token" },
	{ "PATCH", U "/token/{id}", HTTP_AUTH_SELF, S_FULL, api_token_patch, "Activate or deactivate an API token" },
	{ "DELETE", U "/token/{id}", HTTP_AUTH_SELF, S_FULL, api_token_delete, "Delete an API token" },
	{ "POST", A "/user", HTTP_AUTH_ADMIN, S_FULL, api_admin_user_create, "Create a user" },
	{ "GET", A "/user", HTTP_AUTH_ADMIN, S_READ, api_admin_user_list, "List users by handle" },
	{ "POST", A "/user/{handle}/disable", HTTP_AUTH_ADMIN, S_FULL, api_admin_user_disable, "Disable a user" },
	{ "POST", A "/user/{handle}/enable", HTTP_AUTH_ADMIN, S_FULL, api_admin_user_enable, "Enable a user" },
	{ "POST", A "/user/{handle}/console_password_reset", HTTP_AUTH_ADMIN, S_FULL, api_admin_user_password_reset, "Reset a user's console password" },
	{ "GET", A "/nodes", HTTP_AUTH_ADMIN, S_READ, api_admin_nodes, "Workspace nodes and their push state" },
	{ "GET", A "/audit", HTTP_AUTH_ADMIN, S_READ, api_admin_audit, "The whole audit log, newest first" },
	{ "GET", A "/audit/verify", HTTP_AUTH_ADMIN, S_READ, api_admin_audit_verify, "Verify the audit hash chain" },
	{ "GET", A "/audit/forward", HTTP_AUTH_ADMIN, S_READ, api_admin_audit_forward, "The audit trail's delivery to the SIEM collector" },
	{ "GET", A "/backup", HTTP_AUTH_ADMIN, S_FULL, api_admin_backup, "A portable backup of the whole store (JSON lines, streamed)" },
	/* issue 15 part B: two-factor sign-in (api_totp.c) */
	{ "POST", "/api/v0/login/totp", HTTP_AUTH_ANYONE, S_ALL, api_login_totp, "Complete a sign-in with a TOTP code or a recovery code" },
	{ "GET", U "/totp", HTTP_AUTH_SELF, S_READ, api_totp_get, "Two-factor sign-in: off, pending or on" },
	{ "POST", U "/totp", HTTP_AUTH_SELF, S_FULL, api_totp_enrol, "Enrol a TOTP authenticator (the secret is shown once)" },
	{ "POST", U "/totp/confirm", HTTP_AUTH_SELF, S_FULL, api_totp_confirm, "Confirm the enrolment with a code: two-factor sign-in on, ten recovery codes shown once" },
	{ "DELETE", U "/totp", HTTP_AUTH_SELF, S_FULL, api_totp_disable, "Turn two-factor sign-in off (a current code or the password)" },
	{ "POST", A "/user/{handle}/totp_reset", HTTP_AUTH_ADMIN, S_FULL, api_admin_totp_reset, "Turn a user's two-factor sign-in off" },
	/* issue 15 part C: sessions list, audit export */
	{ "GET", U "/session", HTTP_AUTH_SELF, S_READ, api_session_list, "The user's console sessions, last seen first" },
	{ "DELETE", U "/session/{id}", HTTP_AUTH_SELF, S_FULL, api_session_end, "End one of the user's console sessions" },
	{ "GET", U "/audit/export", HTTP_AUTH_SELF, S_READ, api_user_audit_export, "The user's audit log as JSON lines or CSV (filtered, streamed)" },
	{ "GET", A "/audit/export", HTTP_AUTH_ADMIN, S_READ, api_admin_audit_export, "The whole audit log as JSON lines or CSV (filtered, streamed)" },
	{ NULL, NULL, HTTP_AUTH_ANYONE, 0, NULL, NULL },
};
