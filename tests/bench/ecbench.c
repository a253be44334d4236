/*
 * ecbench.c — make bench's yardstick for a full TLS handshake: the public-key
 * math a server does in one, with the sysroot's mbedTLS and
 * toolchain/mbedtls_config.h, one thread, CPU time per operation:
 *
 *   ecdhe-x25519-psa   one ephemeral X25519 key pair + one shared secret, PSA
 *                      (what TLS 1.3 does)
 *   ecdhe-p256-psa     the same on P-256 (PSA; the p256-m driver when built)
 *   ecdhe-x25519       the same, classic ECP API (what TLS 1.2 does)
 *   ecdhe-p256         the same on P-256, classic ECP API
 *   ecdsa-p256-sign    one ECDSA P-256 signature over a SHA-256 hash with the
 *                      server's key (mbedtls_pk_sign: both versions sign so)
 *
 *   ecbench KEYFILE SECONDS     prints "name microseconds" lines
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecdh.h>
#include <mbedtls/ecp.h>
#include <mbedtls/entropy.h>
#include <mbedtls/pk.h>
#include <psa/crypto.h>

static mbedtls_entropy_context ec_entropy;
static mbedtls_ctr_drbg_context ec_drbg;
static mbedtls_pk_context ec_key;

static double
ec_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* classic ECP: key pair, peer key pair, shared secret from ours (the peer's
 * own key generation is the client's work and is not counted) */
static int
ec_classic(mbedtls_ecp_group_id gid, const mbedtls_ecp_point *peer)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d, z;
	mbedtls_ecp_point q, s;
	int rc;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	mbedtls_mpi_init(&z);
	mbedtls_ecp_point_init(&q);
	mbedtls_ecp_point_init(&s);
	rc = mbedtls_ecp_group_load(&grp, gid) ||
	    mbedtls_ecp_gen_keypair(&grp, &d, &q, mbedtls_ctr_drbg_random, &ec_drbg) ||
	    mbedtls_ecdh_compute_shared(&grp, &z, peer, &d, mbedtls_ctr_drbg_random, &ec_drbg);
	mbedtls_ecp_point_free(&s);
	mbedtls_ecp_point_free(&q);
	mbedtls_mpi_free(&z);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

static int
ec_psa(psa_ecc_family_t fam, size_t bits, const unsigned char *peer, size_t peerlen)
{
	psa_key_attributes_t a = PSA_KEY_ATTRIBUTES_INIT;
	psa_key_id_t k;
	unsigned char pub[PSA_EXPORT_PUBLIC_KEY_MAX_SIZE], z[66];
	size_t publen, zlen;
	int rc;

	psa_set_key_type(&a, PSA_KEY_TYPE_ECC_KEY_PAIR(fam));
	psa_set_key_bits(&a, bits);
	psa_set_key_usage_flags(&a, PSA_KEY_USAGE_DERIVE);
	psa_set_key_algorithm(&a, PSA_ALG_ECDH);
	if (psa_generate_key(&a, &k) != PSA_SUCCESS)
		return -1;
	rc = psa_export_public_key(k, pub, sizeof(pub), &publen) != PSA_SUCCESS ||
	    psa_raw_key_agreement(PSA_ALG_ECDH, k, peer, peerlen, z, sizeof(z),
	    &zlen) != PSA_SUCCESS;
	psa_destroy_key(k);
	return rc ? -1 : 0;
}

static int
ec_sign(void)
{
	unsigned char hash[32] = { 1 }, sig[MBEDTLS_PK_SIGNATURE_MAX_SIZE];
	size_t siglen;

	return mbedtls_pk_sign(&ec_key, MBEDTLS_MD_SHA256, hash, sizeof(hash),
	    sig, sizeof(sig), &siglen, mbedtls_ctr_drbg_random, &ec_drbg);
}

/* a peer's public key on a curve, as a point and as PSA's octet string */
static int
ec_peer(mbedtls_ecp_group_id gid, mbedtls_ecp_point *q, unsigned char *oct, size_t *octlen)
{
	mbedtls_ecp_group grp;
	mbedtls_mpi d;
	int rc;

	mbedtls_ecp_group_init(&grp);
	mbedtls_mpi_init(&d);
	rc = mbedtls_ecp_group_load(&grp, gid) ||
	    mbedtls_ecp_gen_keypair(&grp, &d, q, mbedtls_ctr_drbg_random, &ec_drbg) ||
	    mbedtls_ecp_point_write_binary(&grp, q, MBEDTLS_ECP_PF_UNCOMPRESSED, octlen,
	    oct, 133);
	mbedtls_mpi_free(&d);
	mbedtls_ecp_group_free(&grp);
	return rc;
}

int
main(int argc, char **argv)
{
	mbedtls_ecp_point p256, x25519;
	unsigned char o256[133], o25519[133];
	size_t l256, l25519;
	double secs, t0;
	int i, n, rc = 0;
	const char *names[] = { "ecdhe-x25519-psa", "ecdhe-p256-psa", "ecdhe-x25519",
	    "ecdhe-p256", "ecdsa-p256-sign" };

	if (argc != 3) {
		fprintf(stderr, "usage: ecbench KEYFILE SECONDS\n");
		return 2;
	}
	secs = atof(argv[2]);
	if (psa_crypto_init() != PSA_SUCCESS)
		return 1;
	mbedtls_entropy_init(&ec_entropy);
	mbedtls_ctr_drbg_init(&ec_drbg);
	mbedtls_pk_init(&ec_key);
	mbedtls_ecp_point_init(&p256);
	mbedtls_ecp_point_init(&x25519);
	if (mbedtls_ctr_drbg_seed(&ec_drbg, mbedtls_entropy_func, &ec_entropy,
	    (const unsigned char *)"ecbench", 7) != 0 ||
	    mbedtls_pk_parse_keyfile(&ec_key, argv[1], NULL, mbedtls_ctr_drbg_random,
	    &ec_drbg) != 0 ||
	    ec_peer(MBEDTLS_ECP_DP_SECP256R1, &p256, o256, &l256) != 0 ||
	    ec_peer(MBEDTLS_ECP_DP_CURVE25519, &x25519, o25519, &l25519) != 0) {
		fprintf(stderr, "ecbench: setup failed\n");
		return 1;
	}
	for (i = 0; i < 5 && rc == 0; i++) {
		t0 = ec_cpu();
		for (n = 0; rc == 0 && (n < 10 || ec_cpu() - t0 < secs); n++) {
			switch (i) {
			case 0: rc = ec_psa(PSA_ECC_FAMILY_MONTGOMERY, 255, o25519, l25519); break;
			case 1: rc = ec_psa(PSA_ECC_FAMILY_SECP_R1, 256, o256, l256); break;
			case 2: rc = ec_classic(MBEDTLS_ECP_DP_CURVE25519, &x25519); break;
			case 3: rc = ec_classic(MBEDTLS_ECP_DP_SECP256R1, &p256); break;
			default: rc = ec_sign(); break;
			}
		}
		printf("%s %.1f\n", names[i], (ec_cpu() - t0) * 1e6 / n);
	}
	if (rc != 0)
		fprintf(stderr, "ecbench: operation failed (%d)\n", rc);
	mbedtls_ecp_point_free(&x25519);
	mbedtls_ecp_point_free(&p256);
	mbedtls_pk_free(&ec_key);
	mbedtls_ctr_drbg_free(&ec_drbg);
	mbedtls_entropy_free(&ec_entropy);
	return rc != 0;
}
