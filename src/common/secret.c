/*
 * Human-readable random secrets: the bootstrap admin's password and (later)
 * database passwords. 5 random bits per character, from the CSPRNG, with no
 * modulo bias (the alphabet has exactly 32 symbols).
 */
#include <string.h>

#include "common.h"

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

/* ids: prefix + 20 chars of [0-9a-v] (base32hex, lowercase), 100 bits */
int
secret_id(char out[SECRET_ID_LEN + 1], const char *prefix)
{
	static const char b32[] = "0123456789abcdefghijklmnopqrstuv";
	uint8_t rnd[20];

	if (strlen(prefix) != 2 || crypto_random(rnd, sizeof(rnd)) == -1)
		return -1;
	memcpy(out, prefix, 2);
	for (size_t i = 0; i < 20; i++)
		out[2 + i] = b32[rnd[i] & 31];
	out[SECRET_ID_LEN] = '\0';
	return 0;
}

int
secret_id_valid(const char *s, const char *prefix)
{
	if (strlen(s) != SECRET_ID_LEN || strncmp(s, prefix, 2) != 0)
		return 0;
	for (size_t i = 2; i < SECRET_ID_LEN; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'v')))
			return 0;
	return 1;
}

void
secret_hex(const uint8_t *in, size_t n, char *out)
{
	static const char hx[] = "0123456789abcdef";

	for (size_t i = 0; i < n; i++) {
		out[2 * i] = hx[in[i] >> 4];
		out[2 * i + 1] = hx[in[i] & 15];
	}
	out[2 * n] = '\0';
}

static int
secret_nibble(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int
secret_unhex(const char *in, uint8_t *out, size_t n)
{
	if (strlen(in) != 2 * n)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int hi = secret_nibble(in[2 * i]), lo = secret_nibble(in[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

static void
secret_b64_enc(const uint8_t *in, size_t n, char *out, const char *b64, int pad)
{
	size_t i, o = 0;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		out[o++] = b64[v & 63];
	}
	if (n - i == 1) {
		uint32_t v = (uint32_t)in[i] << 16;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		if (pad) {
			out[o++] = '=';
			out[o++] = '=';
		}
	} else if (n - i == 2) {
		uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
		out[o++] = b64[v >> 18 & 63];
		out[o++] = b64[v >> 12 & 63];
		out[o++] = b64[v >> 6 & 63];
		if (pad)
			out[o++] = '=';
	}
	out[o] = '\0';
}

void
secret_b64url(const uint8_t *in, size_t n, char *out)
{
	secret_b64_enc(in, n, out,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_", 0);
}

void
secret_b64(const uint8_t *in, size_t n, char *out)
{
	secret_b64_enc(in, n, out,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/", 1);
}

/* standard or URL-safe alphabet, padding optional; -1 on anything else */
int
secret_unb64(const char *in, uint8_t *out, size_t outcap, size_t *outlen)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t o = 0;

	for (; *in && *in != '='; in++) {
		int v;
		char c = *in;

		if (c >= 'A' && c <= 'Z') v = c - 'A';
		else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
		else if (c >= '0' && c <= '9') v = c - '0' + 52;
		else if (c == '+' || c == '-') v = 62;
		else if (c == '/' || c == '_') v = 63;
		else return -1;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			if (o == outcap)
				return -1;
			out[o++] = (uint8_t)(acc >> bits);
		}
	}
	*outlen = o;
	return 0;
}
