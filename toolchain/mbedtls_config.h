/*
 * acctd's mbedTLS 2.28 configuration (MBEDTLS_CONFIG_FILE).
 *
 * civetweb 1.15 ignores cipher settings under mbedTLS, and the push client
 * should not be able to negotiate anything weaker either, so the policy is
 * enforced here, at compile time: code that is not built cannot be offered.
 *
 *   - TLS 1.2 only (no SSL 3, TLS 1.0, TLS 1.1; 1.3 is experimental in 2.28)
 *   - key exchange: ECDHE only (ECDSA or RSA certificates); no static RSA,
 *     no DHE, no PSK
 *   - ciphers: AES-GCM and ChaCha20-Poly1305 (AEAD) only; no CBC, no CCM
 *   - groups: P-256 and X25519 only (P-521 first, the 2.28 default order,
 *     costs 3x the handshake time on the appliance)
 *   - no renegotiation, no compression, no SSL debug, no self tests
 *   - thread-safe (MBEDTLS_THREADING_C, pthread): the DRBG and entropy
 *     contexts that civetweb shares between its threads, and RSA blinding,
 *     lock themselves.
 *
 * What threading does NOT cover in 2.28: an ECP group (and so a key) may
 * not be used by two threads at once: the comb table of its base point is
 * built lazily and stored in the group. acctd never does: civetweb's TLS
 * handshakes all run on its front-stage thread (docs/civetweb.md), the push
 * client builds a context per delivery (src/tls.c), and acctd-agent parses
 * its key once per worker (src/agent_tls.c).
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
#define MBEDTLS_TIMING_C
#define MBEDTLS_ERROR_C
#define MBEDTLS_VERSION_C
#define MBEDTLS_THREADING_C
#define MBEDTLS_THREADING_PTHREAD

/* randomness */
#define MBEDTLS_ENTROPY_C
#define MBEDTLS_CTR_DRBG_C
#define MBEDTLS_HMAC_DRBG_C

/* hashes and KDFs */
#define MBEDTLS_MD_C
#define MBEDTLS_SHA256_C
#define MBEDTLS_SHA512_C
#define MBEDTLS_HKDF_C
#define MBEDTLS_PKCS5_C

/* ciphers: AEAD only */
#define MBEDTLS_CIPHER_C
#define MBEDTLS_AES_C
#define MBEDTLS_AESNI_C
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
#define MBEDTLS_PEM_WRITE_C
#define MBEDTLS_PK_C
#define MBEDTLS_PK_PARSE_C
#define MBEDTLS_PK_WRITE_C
#define MBEDTLS_ECP_C
#define MBEDTLS_ECP_NIST_OPTIM
#define MBEDTLS_ECP_DP_SECP256R1_ENABLED
#define MBEDTLS_ECP_DP_CURVE25519_ENABLED
#define MBEDTLS_ECDH_C
#define MBEDTLS_ECDSA_C
#define MBEDTLS_ECDSA_DETERMINISTIC
#define MBEDTLS_RSA_C
#define MBEDTLS_PKCS1_V15
#define MBEDTLS_PKCS1_V21

/* X.509 */
#define MBEDTLS_X509_USE_C
#define MBEDTLS_X509_CRT_PARSE_C

/* TLS 1.2, ECDHE + AEAD */
#define MBEDTLS_SSL_TLS_C
#define MBEDTLS_SSL_SRV_C
#define MBEDTLS_SSL_CLI_C
#define MBEDTLS_SSL_PROTO_TLS1_2
#define MBEDTLS_KEY_EXCHANGE_ECDHE_ECDSA_ENABLED
#define MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED
#define MBEDTLS_SSL_EXTENDED_MASTER_SECRET
#define MBEDTLS_SSL_SERVER_NAME_INDICATION
#define MBEDTLS_SSL_MAX_FRAGMENT_LENGTH
#define MBEDTLS_SSL_KEEP_PEER_CERTIFICATE

#define MBEDTLS_SSL_CIPHERSUITES                                \
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,        \
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,  \
	MBEDTLS_TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,        \
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,          \
	MBEDTLS_TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,    \
	MBEDTLS_TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384

#include "mbedtls/check_config.h"

#endif /* ACCTD_MBEDTLS_CONFIG_H */
