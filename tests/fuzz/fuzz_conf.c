/*
 * fuzz_conf: acctd's libconfig file, parsed and checked by conf_load (what
 * `acctd -t -c FILE` runs): the syntax, every rule table, the cross-field
 * checks, the defaults; a loaded conf is then freed (leaks are found).
 */
#include "acctd.h"
#include "fuzz_conf.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fuzz_conf_init();
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf *c = NULL;
	char *errs = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (fuzz_conf_write(data, size) == -1)
		return 0;
	f = open_memstream(&errs, &len);
	rc = conf_load(fuzz_conf_path, f, &c);
	fclose(f);
	fuzz_conf_check_errs(errs, len, rc);
	if (rc == 0) {
		/* what the rest of acctd relies on once a file is accepted */
		if (c->tls_cert == NULL || c->tls_key == NULL || c->data_dir == NULL ||
		    c->key_file == NULL || c->admin_password_file == NULL ||
		    c->nlisten == 0 || c->sessions_idle_timeout > c->sessions_absolute_timeout)
			abort();
		for (size_t i = 0; i < c->nworkspaces; i++)
			(void)conf_names_handle(c, c->workspaces[i].owner);
	}
	conf_free(c);
	free(errs);
	return 0;
}
