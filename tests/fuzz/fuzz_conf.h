/*
 * The config targets' common part: the input is written to a file on
 * /dev/shm (tmpfs: no disk writes per input) and loaded like `acctd -t`
 * does; every error line must read "FILE:LINE: setting: reason".
 * "@include" makes libconfig read another file by name: the operator's
 * own files, not input, so such inputs are skipped.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_conf_dir[64], fuzz_conf_path[96];

static void
fuzz_conf_cleanup(void)
{
	unlink(fuzz_conf_path);
	rmdir(fuzz_conf_dir);
}

static void
fuzz_conf_init(void)
{
	snprintf(fuzz_conf_dir, sizeof(fuzz_conf_dir), "/dev/shm/acctd-fuzz-XXXXXX");
	if (mkdtemp(fuzz_conf_dir) == NULL) {
		perror("mkdtemp /dev/shm");
		exit(1);
	}
	snprintf(fuzz_conf_path, sizeof(fuzz_conf_path), "%s/acctd.conf", fuzz_conf_dir);
	atexit(fuzz_conf_cleanup);
	log_init("fuzz", 1, LOG_LEVEL_ERROR);
}

/* 0 when the input was written to fuzz_conf_path, -1 to skip it */
static int
fuzz_conf_write(const uint8_t *data, size_t size)
{
	FILE *f;

	if (size > 65536 || memmem(data, size, "@include", 8) != NULL)
		return -1;
	f = fopen(fuzz_conf_path, "w");
	if (f == NULL || fwrite(data, 1, size, f) != size || fclose(f) != 0)
		abort();
	return 0;
}

/* every line of errs is "PATH:LINE: setting: reason" */
static void
fuzz_conf_check_errs(const char *errs, size_t len, int rc)
{
	size_t plen = strlen(fuzz_conf_path);
	const char *line = errs, *end = errs + len;

	if (rc == -1 && len == 0)
		abort();                /* refused without a reason */
	if (rc == 0 && len != 0)
		abort();                /* accepted with errors */
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *p = line + plen;

		if (nl == NULL || strncmp(line, fuzz_conf_path, plen) != 0 ||
		    *p++ != ':' || p[0] < '0' || p[0] > '9')
			abort();
		while (*p >= '0' && *p <= '9')
			p++;
		if (p[0] != ':' || p[1] != ' ' || memchr(p + 2, ':', (size_t)(nl - p - 2)) == NULL)
			abort();
		line = nl + 1;
	}
}
