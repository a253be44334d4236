/*
 * addr.c: the one reading of "host:port" — the split, the listen check's
 * exact wording (the config tests assert it too), and the socket address
 * acctd-agent binds.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "common.h"

#define BAD "must be host:port with an ip address or * as host"
#define RANGE "port must be between 1 and 65535"

static void
t_split(const char *s, int rc, const char *host, int v6, unsigned port)
{
	struct addr a;

	assert_int_equal(addr_split(s, &a), rc);
	if (host != NULL) {
		assert_string_equal(a.host, host);
		assert_int_equal(a.v6, v6);
	}
	if (rc == 0)
		assert_int_equal(a.port, port);
}

static void
test_split(void **state)
{
	(void)state;
	t_split("127.0.0.1:8443", 0, "127.0.0.1", 0, 8443);
	t_split("*:443", 0, "*", 0, 443);
	t_split("gw.example:1", 0, "gw.example", 0, 1);
	t_split("[::1]:65535", 0, "::1", 1, 65535);
	t_split("[fd00::1:2]:9443", 0, "fd00::1:2", 1, 9443);
	t_split("h:00443", 0, "h", 0, 443);
	/* the last ':' splits: a host with one is the caller's to refuse */
	t_split("a:b:1", 0, "a:b", 0, 1);
}

static void
test_split_refused(void **state)
{
	char longhost[ADDR_HOST_MAX + 8];

	(void)state;
	t_split("", ADDR_EFORM, NULL, 0, 0);
	t_split("host", ADDR_EFORM, NULL, 0, 0);
	t_split(":443", ADDR_EFORM, NULL, 0, 0);
	t_split("host:", ADDR_EFORM, NULL, 0, 0);
	t_split("host:44x", ADDR_EFORM, NULL, 0, 0);
	t_split("host:-1", ADDR_EFORM, NULL, 0, 0);
	t_split("host:443/", ADDR_EFORM, NULL, 0, 0);
	t_split("[::1]", ADDR_EFORM, NULL, 0, 0);
	t_split("[::1]443", ADDR_EFORM, NULL, 0, 0);
	t_split("[]:443", ADDR_EFORM, NULL, 0, 0);
	t_split("[::1:443", ADDR_EFORM, NULL, 0, 0);
	t_split("[1.2.3.4]:443", ADDR_EFORM, NULL, 0, 0);
	t_split("[::zz]:443", ADDR_EFORM, NULL, 0, 0);
	memset(longhost, 'a', ADDR_HOST_MAX + 1);
	strcpy(longhost + ADDR_HOST_MAX + 1, ":1");
	t_split(longhost, ADDR_EFORM, NULL, 0, 0);
	strcpy(longhost + ADDR_HOST_MAX, ":1");   /* exactly the maximum */
	t_split(longhost, 0, NULL, 0, 1);
	/* the form is right, the port is not: the host is there to check */
	t_split("h:0", ADDR_EPORT, "h", 0, 0);
	t_split("h:65536", ADDR_EPORT, "h", 0, 0);
	t_split("[::1]:99999999999999999999", ADDR_EPORT, "::1", 1, 0);
}

static void
t_listen(const char *s, const char *want)
{
	const char *got = addr_listen_check(s);

	if (want == NULL)
		assert_null(got);
	else
		assert_string_equal(got, want);
}

static void
test_listen_check(void **state)
{
	(void)state;
	t_listen("127.0.0.1:8443", NULL);
	t_listen("*:443", NULL);
	t_listen("[::]:443", NULL);
	t_listen("[::1]:1", NULL);
	t_listen("localhost:443", BAD);         /* an address, not a name */
	t_listen("1.2.3:443", BAD);
	t_listen("1.2.3.4", BAD);
	t_listen("1.2.3.4:", BAD);
	t_listen("1.2.3.4:x", BAD);
	t_listen("1.2.3.4:5:6", BAD);
	t_listen("::1:443", BAD);               /* v6 needs its brackets */
	t_listen("[::1]:", BAD);
	/* the host is judged before the port */
	t_listen("localhost:0", BAD);
	t_listen("1.2.3.4:0", RANGE);
	t_listen("*:65536", RANGE);
	t_listen("[::1]:70000", RANGE);
}

static void
test_listen_sockaddr(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	struct in6_addr lo6 = IN6ADDR_LOOPBACK_INIT;
	socklen_t len;

	(void)state;
	assert_int_equal(addr_listen_sockaddr("127.0.0.1:9443", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET);
	assert_int_equal(len, sizeof(*s4));
	assert_int_equal(ntohs(s4->sin_port), 9443);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), INADDR_LOOPBACK);
	assert_int_equal(addr_listen_sockaddr("*:1", &ss, &len), 0);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), INADDR_ANY);
	assert_int_equal(ntohs(s4->sin_port), 1);
	assert_int_equal(addr_listen_sockaddr("[::1]:65535", &ss, &len), 0);
	assert_int_equal(ss.ss_family, AF_INET6);
	assert_int_equal(len, sizeof(*s6));
	assert_int_equal(ntohs(s6->sin6_port), 65535);
	assert_memory_equal(&s6->sin6_addr, &lo6, sizeof(lo6));
	assert_int_equal(addr_listen_sockaddr("name:443", &ss, &len), -1);
	assert_int_equal(addr_listen_sockaddr("1.2.3.4:0", &ss, &len), -1);
}

/* node hosts without NSS: an address as is, else /etc/hosts */
static void
test_resolve(void **state)
{
	struct sockaddr_storage ss[4];
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss[0];
	socklen_t lens[4];

	(void)state;
	assert_int_equal(addr_resolve("10.0.0.11", 9443, ss, lens, 4), 1);
	assert_int_equal(ss[0].ss_family, AF_INET);
	assert_int_equal(ntohs(s4->sin_port), 9443);
	assert_int_equal(ntohl(s4->sin_addr.s_addr), 0x0a00000b);
	assert_int_equal(addr_resolve("fd00::1", 1, ss, lens, 4), 1);
	assert_int_equal(ss[0].ss_family, AF_INET6);
	assert_int_equal(lens[0], sizeof(struct sockaddr_in6));
	/* every /etc/hosts names localhost; case does not matter */
	assert_true(addr_resolve("LocalHost", 443, ss, lens, 4) >= 1);
	assert_int_equal(addr_resolve("node2.invalid", 443, ss, lens, 4), 0);
	assert_int_equal(addr_resolve("10.0.0.11", 443, ss, lens, 0), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split),
		cmocka_unit_test(test_split_refused),
		cmocka_unit_test(test_listen_check),
		cmocka_unit_test(test_listen_sockaddr),
		cmocka_unit_test(test_resolve),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
