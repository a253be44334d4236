/*
 * GET /api/v0/user/{handle}/audit/export and /api/v0/admin/audit/export:
 * the audit log (one user's, or all of it), filtered like the audit lists,
 * streamed as JSON lines or CSV. The export's own record ("audit.export")
 * commits first, like a backup's. Then the records go out newest first, a
 * page at a time: each page is read in a read txn of its own that ends
 * before the page is written, so a slow client never holds a snapshot open
 * (LMDB could not reuse the pages it pins) and memory stays at one page
 * however long the log. Records appended meanwhile are newer than the
 * first page and are not part of the export; records the ring drops before
 * their page is read are missing from it.
 *
 * CSV is RFC 4180 (CRLF, quoted when a cell holds a comma, quote or line
 * break); a cell beginning with = + - @ tab or CR gets a leading ' so that
 * a spreadsheet shows it instead of evaluating it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

#define EXPORT_PAGE 500

static const char *const export_columns[] = {
	"id", "created_at", "action_type", "actor_id", "actor_handle",
	"actor_display_name", "actor_ip", "identity_id", "identity_handle",
	"target_id", "target_handle", "data", "prev_hash", "hash", NULL,
};

/* ?format=jsonl (the default) | csv: 0, or -1 after a 400 */
static int
export_format(struct http_req *r, int *csv)
{
	char v[16];
	int rc = http_query(r, "format", v, sizeof(v));

	*csv = rc == 0 && strcmp(v, "csv") == 0;
	if (rc == -1 || (rc == 0 && (*csv || strcmp(v, "jsonl") == 0)))
		return 0;
	return api_invalid(r, "query.format", "must be jsonl or csv", "invalid query parameter");
}

static void
export_csv_cell(FILE *f, const char *s)
{
	if (s == NULL || *s == '\0')
		return;
	if (strpbrk(s, ",\"\r\n") == NULL && strchr("=+-@\t\r", *s) == NULL) {
		fputs(s, f);
		return;
	}
	fputc('"', f);
	if (strchr("=+-@\t\r", *s) != NULL)
		fputc('\'', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

static void
export_csv_row(FILE *f, const struct json *rec)
{
	for (size_t i = 0; export_columns[i] != NULL; i++) {
		const struct json *v = json_get(rec, export_columns[i]);
		char *text = NULL;
		int64_t n;

		if (i > 0)
			fputc(',', f);
		if (json_str(v) != NULL) {
			export_csv_cell(f, json_str(v));
		} else if (json_int(v, &n) == 0) {
			fprintf(f, "%lld", (long long)n);
		} else if (v != NULL && !json_is_null(v)) {
			text = json_print(v);
			export_csv_cell(f, text);
			free(text);
		}
	}
	fputs("\r\n", f);
}

static void
export_csv_header(FILE *f)
{
	for (size_t i = 0; export_columns[i] != NULL; i++)
		fprintf(f, "%s%s", i ? "," : "", export_columns[i]);
	fputs("\r\n", f);
}

/* one page of records as text (CSV's first: after the header row): 0 / -1 */
static int
export_page_write(struct http_req *r, const struct json *items, int csv, int first,
    uint64_t *count)
{
	struct json *rec = NULL;
	char *buf = NULL, *line;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	int rc;

	if (f == NULL)
		return -1;
	if (csv && first)
		export_csv_header(f);
	while ((rec = json_item_next(items, rec)) != NULL) {
		if (csv) {
			export_csv_row(f, rec);
		} else {
			line = json_print(rec);
			fprintf(f, "%s\n", line);
			free(line);
		}
		(*count)++;
	}
	fclose(f);
	rc = len > 0 ? http_stream_write(r, buf, len) : 0;
	free(buf);
	return rc;
}

/* every matching record, a read txn per page: 0 / -1 (store error or the
 * client left) */
static int
export_stream(struct http_req *r, const char *identity_id, const struct audit_filter *f,
    int csv, uint64_t *count)
{
	struct store_txn *t;
	struct json *items;
	uint64_t before = 0, next;
	int rc;

	do {
		if (store_read_begin(app.store, &t) == -1)
			return -1;
		rc = audit_page_filtered(t, identity_id, before, EXPORT_PAGE, f, &items, &next);
		store_txn_abort(t);
		if (rc == -1) {
			log_warnx("audit export: cannot read the audit log below %llu",
			    (unsigned long long)before);
			return -1;
		}
		rc = export_page_write(r, items, csv, before == 0, count);
		json_free(items);
		if (rc == -1)
			return -1;
		before = next;
	} while (next != 0);
	return 0;
}

/* the export's record: format and the filters that were set */
static int
export_audit(struct http_req *r, const struct user *u, const struct audit_filter *f, int csv)
{
	const char *fields[] = { "action", f->action, "actor", f->actor,
	    "since", f->since, "until", f->until, NULL };
	struct json *data = json_object();
	struct account_txn ax;
	int rc;

	json_set_str(data, "format", csv ? "csv" : "jsonl");
	for (size_t i = 0; fields[i] != NULL; i += 2)
		if (fields[i + 1][0])
			json_set_str(data, fields[i], fields[i + 1]);
	if (api_account_begin(r, &ax, NULL) == -1) {
		json_free(data);
		return -1;
	}
	rc = account_audit_export(&ax, u, data);
	json_free(data);
	return api_account_done(r, &ax, rc,
	    "cannot write the audit record; nothing was exported");
}

static void
export_run(struct http_req *r, const struct user *u)
{
	struct audit_filter f;
	char ts[32], hdr[200];
	uint64_t n = 0;
	int csv;

	if (export_format(r, &csv) == -1 || api_audit_filter(r, &f) == -1 ||
	    export_audit(r, u, &f, csv) == -1)
		return;
	time_rfc3339(app_now(), ts, sizeof(ts));
	snprintf(hdr, sizeof(hdr), "Cache-Control: no-store\r\nContent-Disposition: "
	    "attachment; filename=\"acctd-audit-%s-%.4s%.2s%.2sT%.2s%.2s%.2sZ.%s\"\r\n",
	    u ? u->handle : "all", ts, ts + 5, ts + 8, ts + 11, ts + 14, ts + 17,
	    csv ? "csv" : "jsonl");
	if (http_stream_begin(r, csv ? "text/csv; charset=utf-8" : "application/x-ndjson",
	    hdr) == -1)
		return;
	if (export_stream(r, u ? u->id : NULL, &f, csv, &n) == -1 ||
	    http_stream_write(r, NULL, 0) == -1)
		log_warnx("audit export: the download to %s stopped before its end", r->remote_ip);
	else
		log_info("audit export: %llu records sent to %s", (unsigned long long)n, r->remote_ip);
}

void
api_user_audit_export(struct http_req *r)
{
	struct user u;

	if (api_path_read(r, &u) == 0)
		export_run(r, &u);
	user_clear(&u);
}

void
api_admin_audit_export(struct http_req *r)
{
	export_run(r, NULL);
}
