/*
 * fuzz_agent_conf: acctd-agent's libconfig file (agent_conf_load), with the
 * same error-line rule as acctd's.
 */
#include "agent.h"
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
	struct agent_conf *c = NULL;
	char *errs = NULL;
	size_t len = 0;
	FILE *f;
	int rc;

	if (fuzz_conf_write(data, size) == -1)
		return 0;
	f = open_memstream(&errs, &len);
	rc = agent_conf_load(fuzz_conf_path, f, &c);
	fclose(f);
	fuzz_conf_check_errs(errs, len, rc);
	if (rc == 0 && (c->listen == NULL || c->tls_cert == NULL ||
	    c->tls_key == NULL || c->acctd_cert == NULL || c->state_file == NULL ||
	    c->hook == NULL || (c->nhook_env > 0 && c->hook_env == NULL)))
		abort();
	agent_conf_free(c);
	free(errs);
	return 0;
}
