/*
 * Human-readable random secrets: the bootstrap admin's password and (later)
 * database passwords. 5 random bits per character, from the CSPRNG, with no
 * modulo bias (the alphabet has exactly 32 symbols).
 */
#include <string.h>

#include "acctd.h"

static const char secret_alphabet[32] = "0123456789abcdefghjkmnpqrstvwxyz";

int
secret_readable(char *out, size_t outlen, unsigned groups)
{
	uint8_t rnd[64];
	size_t need = (size_t)groups * 6, i, o = 0;

	if (groups == 0 || groups > sizeof(rnd) / 5 || outlen < need)
		return -1;
	if (crypto_random(rnd, (size_t)groups * 5) == -1)
		return -1;
	for (i = 0; i < (size_t)groups * 5; i++) {
		if (i > 0 && i % 5 == 0)
			out[o++] = '-';
		out[o++] = secret_alphabet[rnd[i] & 31];
	}
	out[o] = '\0';
	crypto_wipe(rnd, sizeof(rnd));
	return 0;
}
