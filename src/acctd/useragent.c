/*
 * A short label for a User-Agent ("Firefox 128 on Linux"), for the sessions
 * list: people recognise their browser and device, not the header. The
 * tables are ordered: a browser's header names the ones it imitates too
 * (Edge says Chrome and Safari; Chrome says Safari), so the most specific
 * token comes first. Anything not recognised is "Unknown browser".
 */
#include <stdio.h>
#include <string.h>

#include "acctd.h"

struct useragent_rule {
	const char *token;         /* found in the header: the major version follows */
	const char *name;
};

static const struct useragent_rule useragent_browsers[] = {
	{ "Edg/", "Edge" }, { "EdgA/", "Edge" }, { "EdgiOS/", "Edge" },
	{ "OPR/", "Opera" }, { "SamsungBrowser/", "Samsung Internet" },
	{ "Firefox/", "Firefox" }, { "FxiOS/", "Firefox" },
	{ "HeadlessChrome/", "Headless Chrome" }, { "CriOS/", "Chrome" },
	{ "Chromium/", "Chromium" }, { "Chrome/", "Chrome" },
	{ "Version/", "Safari" },   /* Safari's version; its Safari/ is WebKit's */
	{ "curl/", "curl" }, { "python-requests/", "python-requests" },
	{ "Python-urllib/", "Python" }, { "Wget/", "Wget" },
	{ NULL, NULL },
};

static const struct useragent_rule useragent_systems[] = {
	{ "Windows", "Windows" }, { "iPhone", "iOS" }, { "iPad", "iPadOS" },
	{ "Android", "Android" }, { "CrOS", "ChromeOS" }, { "Mac OS X", "macOS" },
	{ "Macintosh", "macOS" }, { "Linux", "Linux" }, { "FreeBSD", "FreeBSD" },
	{ "OpenBSD", "OpenBSD" },
	{ NULL, NULL },
};

static const struct useragent_rule *
useragent_find(const struct useragent_rule *rules, const char *ua, const char **at)
{
	for (; rules->token != NULL; rules++)
		if ((*at = strstr(ua, rules->token)) != NULL)
			return rules;
	return NULL;
}

void
useragent_label(const char *ua, char *out, size_t outlen)
{
	const struct useragent_rule *b, *os;
	const char *at;
	char ver[8] = "";
	size_t n;

	b = useragent_find(useragent_browsers, ua ? ua : "", &at);
	if (b == NULL) {
		snprintf(out, outlen, "Unknown browser");
		return;
	}
	at += strlen(b->token);
	n = strspn(at, "0123456789");
	if (n > 0 && n < sizeof(ver) - 1)
		snprintf(ver, sizeof(ver), " %.*s", (int)n, at);
	os = useragent_find(useragent_systems, ua, &at);
	snprintf(out, outlen, "%s%s%s%s", b->name, ver, os ? " on " : "", os ? os->name : "");
}
