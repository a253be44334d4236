/*
 * acctd's mbedTLS 3.6 configuration (MBEDTLS_CONFIG_FILE), for the server
 * (civetweb), the push client (src/tls.c) and acctd-agent (src/agent_tls.c).
 *
 * The TLS policy is enforced here, at compile time: code that is not built
 * cannot be offered, by any of the three.
 *
 *   - TLS 1.3 and 1.2 (no SSL 3, TLS 1.0, TLS 1.1: 3.x has no code for them)
 *   - key exchange: (EC)DHE only: TLS 1.3 ephemeral and PSK-with-ephemeral
 *     (resumption), TLS 1.2 ECDHE with ECDSA or RSA certificates; no static
 *     RSA, no DHE, no plain PSK, no 0-RTT early data
 *   - ciphers: AES-GCM and ChaCha20-Poly1305 (AEAD) only; no CBC (the mode
 *     is not compiled), no CCM
 *   - groups: X25519 and P-256 only (the curves compiled in)
 *   - session tickets (1.3 and 1.2), keys from the CSPRNG, in memory only
 *     (src/acctd/http_tls.c http_tls_setup); no server-side session cache
 *   - no renegotiation, no compression, no SSL debug, no self tests
 *   - thread-safe (MBEDTLS_THREADING_C, pthread): the DRBG and entropy
 *     contexts civetweb shares between its threads, the ticket keys, RSA
 *     blinding and PSA's key store lock themselves.
 *
 * PSA: TLS 1.3 runs on the PSA crypto API (psa_crypto_init() is called by
 * crypto_init() before any TLS context exists). MBEDTLS_USE_PSA_CRYPTO stays
 * off: TLS 1.2, X.509 and PK keep the classic modules, and PSA's algorithms
 * are derived from the classic options below (no PSA crypto config file).
 *
 * ECP and threads: 2.28 built the comb table of a curve's base point lazily
 * and stored it in the group, so one key could not be used by two threads at
 * once. 3.6 ships the P-256 table precomputed (MBEDTLS_ECP_FIXED_POINT_OPTIM,
 * the default, in ecp_curves.c) and X25519 uses no table: nothing in a
 * parsed key is written while it signs.
 */
#ifndef ACCTD_MBEDTLS_CONFIG_H
#define ACCTD_MBEDTLS_CONFIG_H

/* platform */
#define MBEDTLS_HAVE_ASM
#define MBEDTLS_HAVE_TIME
#define MBEDTLS_HAVE_TIME_DATE
#define MBEDTLS_FS_IO
#define MBEDTLS_PLATFORM_C
#define MBEDTLS_NET_C
#define MBEDTLS_ERROR_C
#define MBEDTLS_VERSION_C
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD

/* randomness */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_HMAC_DRBG_C	/* deterministic ECDSA */

/* hashes and KDFs */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
/* TOTP codes (RFC 6238, what authenticator apps compute) only: HMAC-SHA1
 * in crypto_hmac_sha1. mbedTLS 3 leaves SHA-1 out of its default TLS
 * signature algorithms and X.509 profile, so no handshake accepts it. */
#define MBEDTLS_SHA1_C
#define MBEDTLS_SHA384_C	/* the *_SHA384 suites, TLS 1.3 transcripts */
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_PKCS5_C
/* aarch64: SHA-256 on the Armv8-A crypto extension when the CPU has it
 * (getauxval at run time; many Cortex-A53 SoCs do, the Raspberry Pi's do
 * not), else the C code. PBKDF2 (crypto.c) and TLS hashing both gain. */
#if defined(__aarch64__)
#define MBEDTLS_SHA256_USE_ARMV8_A_CRYPTO_IF_PRESENT
#endif

/* ciphers: AEAD only */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C		/* x86-64 only; ignored elsewhere */
#define MBEDTLS_GCM_C
#define MBEDTLS_CHACHA20_C
#define MBEDTLS_POLY1305_C
#define MBEDTLS_CHACHAPOLY_C

/* public key */
#define MBEDTLS_BIGNUM_C
#define MBEDTLS_OID_C
#define MBEDTLS_ASN1_PARSE_C
#define MBEDTLS_ASN1_WRITE_C
#define MBEDTLS_BASE64_C
#define MBEDTLS_PEM_PARSE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_RSA_C		/* an operator's RSA certificate still works */
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21	/* RSA-PSS: TLS 1.3 signs with it */

/* X.509 */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C

/* PSA crypto, for TLS 1.3 */
#define MBEDTLS_PSA_CRYPTO_C

/* TLS 1.3 and 1.2, (EC)DHE + AEAD */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_SSL_PROTO_TLS1_3
#define MBEDTLS_SSL_TLS1_3_COMPATIBILITY_MODE
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_EPHEMERAL_ENABLED
#define MBEDTLS_SSL_TLS1_3_KEY_EXCHANGE_MODE_PSK_EPHEMERAL_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE
#define MBEDTLS_SSL_SESSION_TICKETS
#define MBEDTLS_SSL_TICKET_C

/* TLS record buffers, allocated per connection for its whole life (an
 * idle keep-alive connection holds both): incoming records stay at the
 * protocol's 16 KiB (a client may send full-size records, and nothing in
 * 1.3 lets mbedTLS 3.6 ask for smaller ones); outgoing ones are 8 KiB:
 * a response of any size is simply cut into more records, and 8 KiB still
 * holds the largest handshake message either side writes (its certificate
 * chain, which mbedTLS does not fragment: an operator's RSA chain of a
 * few certificates fits). Saves 8 KiB per connection (make bench,
 * "memory"), for acctd, its push client and acctd-agent alike. */
#define MBEDTLS_SSL_IN_CONTENT_LEN	16384
#define MBEDTLS_SSL_OUT_CONTENT_LEN	8192

/* ECDSA first (acctd's certificates are P-256), then ChaCha20 for CPUs
 * without AES instructions; the TLS 1.3 suites are all AEAD */
#define MBEDTLS_SSL_CIPHERSUITES                                \
	MBEDTLS_TLS1_3_AES_128_GCM_SHA256,                      \
	MBEDTLS_TLS1_3_CHACHA20_POLY1305_SHA256,                \
	MBEDTLS_TLS1_3_AES_256_GCM_SHA384,                      \
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,        \
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,  \
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,        \
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,          \
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,    \
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384

#endif /* ACCTD_MBEDTLS_CONFIG_H */
