/*
 * addr.c — "host:port" in one place. acctd's listen addresses and node URLs
 * and acctd-agent's listen address are checked when the config is read,
 * then split again where they are used (bind, connect, the DNS hosts file).
 * Those five copies disagreed on details (the first or the last ':', how
 * long a host may be); now every reader splits the same way, and the
 * config's check and the later use cannot disagree about an address.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "common.h"

/* 1+ digits into *port (saturating above 65535): 0, or -1 */
static int
addr_port(const char *p, unsigned *port)
{
	unsigned long v = 0;

	if (*p == '\0')
		return -1;
	for (; *p != '\0'; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*p - '0');
	}
	*port = v > 65536 ? 65536 : (unsigned)v;
	return 0;
}

int
addr_split(const char *s, struct addr *a)
{
	struct in6_addr a6;
	const char *end, *port;
	size_t len;

	memset(a, 0, sizeof(*a));
	if (s[0] == '[') {
		if ((end = strchr(s, ']')) == NULL || end[1] != ':')
			return ADDR_EFORM;
		s++;
		port = end + 2;
		a->v6 = 1;
	} else {
		if ((end = strrchr(s, ':')) == NULL)
			return ADDR_EFORM;
		port = end + 1;
	}
	len = (size_t)(end - s);
	if (len == 0 || len > ADDR_HOST_MAX)
		return ADDR_EFORM;
	memcpy(a->host, s, len);
	a->host[len] = '\0';
	if (a->v6 && inet_pton(AF_INET6, a->host, &a6) != 1)
		return ADDR_EFORM;
	if (addr_port(port, &a->port) == -1)
		return ADDR_EFORM;
	return a->port >= 1 && a->port <= 65535 ? 0 : ADDR_EPORT;
}

/* "*", an IPv4 literal, or (checked by addr_split) an IPv6 one */
static int
addr_listen_host(const struct addr *a)
{
	struct in_addr a4;

	return a->v6 || strcmp(a->host, "*") == 0 ||
	    inet_pton(AF_INET, a->host, &a4) == 1;
}

const char *
addr_listen_check(const char *s)
{
	struct addr a;
	int rc = addr_split(s, &a);

	if (rc == ADDR_EFORM || !addr_listen_host(&a))
		return "must be host:port with an ip address or * as host";
	if (rc == ADDR_EPORT)
		return "port must be between 1 and 65535";
	return NULL;
}

int
addr_listen_sockaddr(const char *s, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;
	struct addr a;

	memset(ss, 0, sizeof(*ss));
	if (addr_split(s, &a) != 0 || !addr_listen_host(&a))
		return -1;
	if (a.v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)a.port);
		inet_pton(AF_INET6, a.host, &s6->sin6_addr);
		*len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)a.port);
		if (strcmp(a.host, "*") == 0)
			s4->sin_addr.s_addr = htonl(INADDR_ANY);
		else
			inet_pton(AF_INET, a.host, &s4->sin_addr);
		*len = sizeof(*s4);
	}
	return 0;
}

/* one address text into ss with port; 0, or -1 when it is no IP address */
static int
addr_numeric(const char *host, unsigned port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		*len = sizeof(*s4);
		return 0;
	}
	if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*s6);
		return 0;
	}
	return -1;
}

/* does this /etc/hosts line (comment cut off) name host? its address then */
static const char *
addr_hosts_line(char *line, const char *host)
{
	char *save = NULL, *addr = strtok_r(line, " \t\r\n", &save), *name;

	while (addr != NULL && (name = strtok_r(NULL, " \t\r\n", &save)) != NULL)
		if (strcasecmp(name, host) == 0)
			return addr;
	return NULL;
}

int
addr_resolve(const char *host, unsigned port, struct sockaddr_storage *ss,
    socklen_t *lens, size_t max)
{
	char line[1024];
	size_t n = 0;
	FILE *f;

	if (max > 0 && addr_numeric(host, port, &ss[0], &lens[0]) == 0)
		return 1;
	if ((f = fopen("/etc/hosts", "re")) == NULL)
		return 0;
	while (n < max && fgets(line, sizeof(line), f) != NULL) {
		const char *a;

		line[strcspn(line, "#")] = '\0';
		if ((a = addr_hosts_line(line, host)) != NULL &&
		    addr_numeric(a, port, &ss[n], &lens[n]) == 0)
			n++;
	}
	fclose(f);
	return (int)n;
}
