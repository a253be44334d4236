#!/usr/bin/env python3
"""Regenerate docs/openapi.json from the route table in src/acctd/routes.c.

The document is committed (it is what acctd serves); run this after adding a
route and review the diff. tests/unit/test_routes.c fails when the table and
the document disagree."""
import json
import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
src = open(os.path.join(ROOT, "src", "acctd", "routes.c")).read()
rows = re.findall(r'\{ "(GET|POST|PUT|PATCH|DELETE)", ([^,]+), (HTTP_AUTH_\w+), (S_\w+), (\w+), "([^"]+)" \}', src)
# the scope column (routes.c): which API token scopes may call the route
SCOPES = {"S_FULL": ["full"], "S_READ": ["full", "read"], "S_ALL": ["full", "read", "connect"]}


def path(expr):
    expr = expr.strip()
    if expr == "U":
        return "/api/v0/user/{handle}"
    expr = expr.replace('U "', '"/api/v0/user/{handle}').replace('A "', '"/api/v0/admin')
    return expr.strip('"')


ref = lambda n: {"$ref": "#/components/schemas/" + n}
nullable = lambda t, **kw: dict({"type": t, "nullable": True}, **kw)
doc = {
    "openapi": "3.0.3",
    "info": {"title": "acctd", "version": "0.1.0",
             "description": "Account daemon of the gateway appliance: profile, credentials, "
                            "audit log. Errors are application/problem+json."},
    "servers": [{"url": "/"}],
    "components": {
        "securitySchemes": {
            "session": {"type": "apiKey", "in": "cookie", "name": "__Host-acctd_session",
                        "description": "Console session from POST /api/v0/login; non-GET "
                                       "requests also need X-CSRF-Token."},
            "bearer": {"type": "http", "scheme": "bearer", "description": "API token spt_…"}},
        "schemas": {
            "User": {"type": "object", "properties": {
                "id": {"type": "string"}, "handle": {"type": "string"}, "email": {"type": "string"},
                "display_name": nullable("string"), "avatar_url": nullable("string"),
                "role": {"type": "string", "enum": ["admin", "user"]},
                "status": {"type": "string", "enum": ["active", "disabled"]},
                "must_change_password": {"type": "boolean", "description":
                    "signed in with a one-time password: until it is changed, a console "
                    "session may only read /actor, change it and sign out (403 otherwise)"},
                "token_min_issued_at": nullable("string", format="date-time"),
                "version_id": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"}}},
            "Token": {"type": "object", "properties": {
                "id": {"type": "string"}, "title": nullable("string"),
                "status": {"type": "string", "enum": ["active", "inactive"]},
                "last4": {"type": "string"},
                "created_at": {"type": "string", "format": "date-time"},
                "updated_at": {"type": "string", "format": "date-time"},
                "last_used_at": nullable("string", format="date-time"),
                "last_used_ip": nullable("string"),
                "expires_at": nullable("string", format="date-time"),
                "scope": {"type": "string", "enum": ["full", "read", "connect"],
                          "description": "what the token may call (x-token-scopes of each route)"},
                "version_id": {"type": "integer"},
                "token": {"type": "string", "description": "only in the answer to POST"}}},
            "Password": {"type": "object", "properties": {
                "password": {"type": "string"}, "version": {"type": "integer"},
                "created_at": {"type": "string", "format": "date-time"}}},
            "Workspace": {"type": "object", "properties": {
                k: {"type": "string"} for k in ["handle", "owner", "role", "host", "database",
                                                 "node", "connection_string"]}},
            "AuditRecord": {"type": "object", "properties": dict(
                {k: nullable("string") for k in [
                    "created_at", "action_type", "actor_id", "actor_handle", "actor_display_name",
                    "actor_avatar_url", "actor_ip", "identity_id", "identity_handle", "target_id",
                    "target_handle", "prev_hash", "hash"]},
                id={"type": "integer"}, data={"type": "object"})},
            "Problem": {"type": "object", "properties": {
                "type": {"type": "string"}, "title": {"type": "string"},
                "status": {"type": "integer"}, "detail": {"type": "string"},
                "instance": {"type": "string"},
                "validation_errors": {"type": "array", "items": {"type": "object", "properties": {
                    "location": {"type": "string"}, "message": {"type": "string"}}}}}}},
        "responses": {"Problem": {"description": "An error (problem+json)", "content": {
            "application/problem+json": {"schema": ref("Problem")}}}},
        "parameters": {
            "handle": {"name": "handle", "in": "path", "required": True, "schema": {"type": "string"}},
            "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}},
            "limit": {"name": "limit", "in": "query",
                      "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 25}},
            "next_token": {"name": "next_token", "in": "query", "schema": {"type": "string"}}}},
    "paths": {}}
doc["components"]["schemas"]["Workspace"]["properties"]["port"] = {"type": "integer"}
WHO = {"HTTP_AUTH_ANYONE": "anyone", "HTTP_AUTH_USER": "any signed-in user",
       "HTTP_AUTH_SELF": "the user themself, or an admin", "HTTP_AUTH_ADMIN": "administrators",
       "HTTP_AUTH_METRICS": "administrators, or a scraper with the bearer token whose SHA-256 "
                            "is metrics.token_sha256"}
obj = lambda props, req=(): {"type": "object", "additionalProperties": False,
                             "required": list(req), "properties": props} if req else \
    {"type": "object", "additionalProperties": False, "properties": props}
BODIES = {
    "api_login": obj({"handle": {"type": "string"}, "password": {"type": "string"}}, ["handle", "password"]),
    "api_user_patch": obj({"display_name": nullable("string", maxLength=100,
                                                    description='"" or null: no display name'),
                           "avatar_url": nullable("string", maxLength=2048),
                           "handle": {"type": "string",
                                      "pattern": "^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,38}$"}}),
    "api_user_console_password": obj({"current_password": {"type": "string"},
                                      "new_password": {"type": "string", "minLength": 8}},
                                     ["current_password", "new_password"]),
    "api_admin_user_create": obj({"handle": {"type": "string"}, "email": {"type": "string"},
                                  "display_name": nullable("string", maxLength=100,
                                                           description='"" or null: none'),
                                  "role": {"type": "string", "enum": ["admin", "user"]},
                                  "password": {"type": "string", "minLength": 8},
                                  "must_change_password": {"type": "boolean", "default": True,
                                                           "description": "the password (given or "
                                                           "generated) must be changed at the first sign-in"}},
                                 ["handle", "email"]),
    "api_token_create": obj({"title": nullable("string", maxLength=100),
                             "expires_at": nullable("string", format="date-time"),
                             "scope": {"type": "string", "enum": ["full", "read", "connect"],
                                       "default": "full"}}),
    "api_token_patch": obj({"status": {"type": "string", "enum": ["active", "inactive"]}}, ["status"]),
}
ANSWERS = {
    "api_actor_get": ref("User"), "api_user_get": ref("User"), "api_user_patch": ref("User"),
    "api_user_token_reset": ref("User"), "api_admin_user_disable": ref("User"),
    "api_admin_user_enable": ref("User"), "api_admin_user_create": ref("User"),
    "api_password_get": ref("Password"), "api_password_rotate": ref("Password"),
    "api_token_create": ref("Token"), "api_token_get": ref("Token"), "api_token_patch": ref("Token"),
    "api_login": {"type": "object", "properties": {"user": ref("User"), "csrf_token": {"type": "string"}}},
    "api_admin_user_password_reset": {"type": "object", "properties": {
        "user": ref("User"), "initial_password": {"type": "string"}}},
    "api_admin_audit_forward": {"type": "object", "properties": dict(
        {k: {"type": "integer"} for k in ["cursor", "sent_seq", "head", "behind", "sent",
                                           "resent", "dropped"]},
        url=nullable("string", description="audit.forward.url; null when forwarding is off"),
        status={"type": "string", "enum": ["off", "connecting", "ok", "failing"]},
        connected={"type": "boolean"}, last_error=nullable("string"),
        last_attempt=nullable("string", format="date-time"),
        last_success=nullable("string", format="date-time"),
        connected_since=nullable("string", format="date-time"))},
}
LISTS = {"api_user_audit": "AuditRecord", "api_admin_audit": "AuditRecord",
         "api_admin_user_list": "User", "api_token_list": "Token", "api_workspace_list": "Workspace"}
PAGED = {"api_user_audit", "api_admin_audit", "api_admin_user_list"}
STATUS = {"api_admin_user_create": "201", "api_token_create": "201", "api_user_delete": "204",
          "api_logout": "204", "api_user_console_password": "204", "api_token_delete": "204"}
# issue 15 part B: two-factor sign-in (api_totp.c)
TOTP_STATE = {"state": {"type": "string", "enum": ["off", "pending", "on"]},
              "enabled_at": nullable("string", format="date-time"),
              "recovery_codes_left": {"type": "integer"},
              "required": {"type": "boolean", "description": "login.require_2fa_for_admins"}}
BODIES.update({
    "api_login_totp": obj({"ticket": {"type": "string"},
                           "code": {"type": "string", "pattern": "^[0-9]{6}$"},
                           "recovery_code": {"type": "string"}}, ["ticket"]),
    "api_totp_confirm": obj({"code": {"type": "string", "pattern": "^[0-9]{6}$"}}, ["code"]),
    "api_totp_disable": obj({"code": {"type": "string", "pattern": "^[0-9]{6}$"},
                             "password": {"type": "string"}}),
})
ANSWERS.update({
    "api_login": {"type": "object", "description": "with two-factor sign-in on: second_factor "
                  "and ticket (then POST /api/v0/login/totp), no cookie", "properties": {
                      "user": ref("User"), "csrf_token": {"type": "string"},
                      "second_factor": {"type": "string", "enum": ["totp"]},
                      "ticket": {"type": "string"}, "expires_in": {"type": "integer"}}},
    "api_login_totp": {"type": "object", "properties": {"user": ref("User"), "csrf_token": {"type": "string"}}},
    "api_totp_get": {"type": "object", "properties": TOTP_STATE},
    "api_totp_enrol": {"type": "object", "properties": dict(
        TOTP_STATE, secret={"type": "string", "description": "base32, shown once"},
        uri={"type": "string", "description": "otpauth://totp/… for a QR code"})},
    "api_totp_confirm": {"type": "object", "properties": dict(
        TOTP_STATE, recovery_codes={"type": "array", "items": {"type": "string"},
                                    "description": "ten, shown once"})},
})
STATUS.update({"api_totp_enrol": "201", "api_totp_disable": "204", "api_admin_totp_reset": "204"})

for m, p, a, sc, fn, summ in rows:
    p = path(p)
    op = {"operationId": fn, "summary": summ, "description": "Who may call: %s." % WHO[a],
          "security": [] if a == "HTTP_AUTH_ANYONE" else [{"session": []}, {"bearer": []}],
          "x-token-scopes": SCOPES[sc],
          "responses": {"default": {"$ref": "#/components/responses/Problem"}}}
    params = [{"$ref": "#/components/parameters/" + n} for n in ("handle", "id") if "{%s}" % n in p]
    if fn in PAGED:
        params += [{"$ref": "#/components/parameters/limit"}, {"$ref": "#/components/parameters/next_token"}]
    if fn == "api_user_delete":
        params.append({"name": "confirm", "in": "query", "required": True,
                       "description": "the account's handle", "schema": {"type": "string"}})
    if fn == "api_user_patch":
        params.append({"name": "If-Match", "in": "header", "schema": {"type": "string"},
                       "description": "version_id; 412 when it differs"})
    if fn == "api_admin_user_list":
        params.append({"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 254},
                       "description": "only users whose handle or e-mail contains it (case-insensitive); "
                                      "a page may hold fewer than limit with a next_token"})
    if fn in ("api_user_audit", "api_admin_audit"):
        params += [{"name": "action", "in": "query", "schema": {"type": "string"},
                    "description": "an action type, or its first part and a dot (token.)"},
                   {"name": "actor", "in": "query", "schema": {"type": "string"},
                    "description": "the actor's handle"},
                   {"name": "since", "in": "query", "schema": {"type": "string", "format": "date-time"}},
                   {"name": "until", "in": "query", "schema": {"type": "string", "format": "date-time"}}]
    if fn == "api_actor_get":
        op["description"] += (" For a console session the answer carries the session's CSRF "
                              "token in the X-CSRF-Token header (a second tab needs only the cookie).")
    if fn == "api_workspace_list":
        params.append({"name": "reveal", "in": "query", "schema": {"type": "integer", "enum": [0, 1]},
                       "description": "1 shows the password in connection strings"})
    if params:
        op["parameters"] = params
    if fn in BODIES:
        op["requestBody"] = {"content": {"application/json": {"schema": BODIES[fn]}}}
    code = STATUS.get(fn, "200")
    if code == "204":
        op["responses"][code] = {"description": "Done"}
    elif fn == "api_admin_backup":
        op["responses"][code] = {"description": "The backup (docs/backup.md), streamed "
                                 "(chunked) as an attachment: a header line, one line per "
                                 "record, a trailer line with the digest. Audited (store.backup).",
                                 "content": {"application/x-ndjson": {"schema": {"type": "string"}}}}
    elif fn == "routes_metrics":
        op["responses"][code] = {"description": "Prometheus text", "content": {
            "text/plain": {"schema": {"type": "string"}}}}
    else:
        schema = ANSWERS.get(fn, {"type": "object"})
        if fn in LISTS:
            schema = {"type": "object", "properties": {
                "items": {"type": "array", "items": ref(LISTS[fn])}, "next_token": {"type": "string"}}}
            if fn == "api_admin_user_list":
                schema["properties"]["total"] = {"type": "integer", "description": "users on the appliance"}
        op["responses"][code] = {"description": "OK", "content": {"application/json": {"schema": schema}}}
    doc["paths"].setdefault(p, {})[m.lower()] = op
with open(os.path.join(ROOT, "docs", "openapi.json"), "w") as f:
    f.write(json.dumps(doc, indent=1) + "\n")
print("%d operations on %d paths" % (len(rows), len(doc["paths"])))
