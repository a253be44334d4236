/*
 * useragent.c: the sessions list's browser labels, from real headers of
 * the browsers people sign in with (each also names the ones it imitates).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <string.h>

#include "acctd.h"

static const struct {
	const char *ua, *label;
} cases[] = {
	{ "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
	  "Firefox 128 on Linux" },
	{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/126.0.0.0 Safari/537.36", "Chrome 126 on Windows" },
	{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.87", "Edge 126 on Windows" },
	{ "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like "
	  "Gecko) Version/17.5 Safari/605.1.15", "Safari 17 on macOS" },
	{ "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
	  "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1", "Safari 17 on iOS" },
	{ "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/126.0.6478.122 Mobile Safari/537.36", "Chrome 126 on Android" },
	{ "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/125.0.0.0 Safari/537.36 OPR/111.0.0.0", "Opera 111 on Windows" },
	{ "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "HeadlessChrome/126.0.0.0 Safari/537.36", "Headless Chrome 126 on Linux" },
	{ "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
	  "Chrome/126.0.0.0 Safari/537.36", "Chrome 126 on ChromeOS" },
	{ "curl/8.5.0", "curl 8" },
	{ "python-requests/2.31.0", "python-requests 2" },
	{ "", "Unknown browser" },
	{ "Evil?<script>", "Unknown browser" },
	{ "Firefox/99999999999999", "Firefox" },       /* no absurd version */
};

static void
test_labels(void **state)
{
	char out[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		useragent_label(cases[i].ua, out, sizeof(out));
		assert_string_equal(out, cases[i].label);
	}
	useragent_label(NULL, out, sizeof(out));
	assert_string_equal(out, "Unknown browser");
	useragent_label(cases[0].ua, out, 8);            /* cut, never overrun */
	assert_string_equal(out, "Firefox");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_labels),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
