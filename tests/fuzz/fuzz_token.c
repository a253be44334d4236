/*
 * fuzz_token: API token strings (token.c) and the encodings they and the
 * other secrets use (secret.c). A random string almost never has a right
 * CRC32, so when the input's first byte is odd the harness writes the right
 * check characters over the last seven: both the checksum and what is behind
 * it (the id's alphabet, the secret) get fuzzed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "acctd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char fuzz_b32[] = "0123456789abcdefghjkmnpqrstvwxyz";

static void
fuzz_fix_check(char *tok)
{
	uint32_t c = token_crc32(tok, TOKEN_LEN - TOKEN_CHECK_LEN);

	for (int i = TOKEN_CHECK_LEN - 1; i >= 0; i--) {
		tok[TOKEN_LEN - TOKEN_CHECK_LEN + i] = fuzz_b32[c & 31];
		c >>= 5;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char id[SECRET_ID_LEN + 1], secret[TOKEN_SECRET_LEN + 1], *s;
	uint8_t bin[64];
	size_t n;
	int fix;

	if (size < 1 || size > 4096)
		return 0;
	fix = data[0] & 1;
	s = malloc(size);
	memcpy(s, data + 1, size - 1);
	s[size - 1] = '\0';
	if (fix && strlen(s) == TOKEN_LEN)
		fuzz_fix_check(s);
	if (token_parse(s, id, secret) == 0) {
		/* what it accepted is exactly a token's shape */
		if (strlen(id) != SECRET_ID_LEN || !secret_id_valid(id, "t_") ||
		    strlen(secret) != TOKEN_SECRET_LEN ||
		    strncmp(s + 4, id + 2, 20) != 0)
			abort();
	}
	(void)secret_id_valid(s, "t_");
	(void)secret_id_valid(s, "u_");
	(void)secret_unhex(s, bin, 32);
	if (secret_unb64(s, bin, sizeof(bin), &n) == 0 && n > sizeof(bin))
		abort();
	(void)pushmsg_verifier_valid(s);
	crypto_wipe(id, sizeof(id));
	free(s);
	return 0;
}
