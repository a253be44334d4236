/*
 * fuzz_agent_body: the push message decoder (agent_req_body), on its own:
 * what it accepts must be a change agent_state_apply can take as it is.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct agent_change ch;
	char err[320];

	if (size > AGENT_MAX_BODY)
		return 0;
	err[0] = '\0';
	if (agent_req_body((const char *)data, size, &ch, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || strchr(err, ':') == NULL)
			abort();        /* a 400 names the field and the reason */
		return 0;
	}
	if (!secret_id_valid(ch.user_id, "u_") || ch.version < 1 ||
	    ch.present + ch.disabled > 1)
		abort();
	if (ch.present ? !name_handle_valid(ch.role) || !pushmsg_verifier_valid(ch.verifier) :
	    ch.role[0] != '\0' || ch.verifier[0] != '\0')
		abort();
	crypto_wipe(&ch, sizeof(ch));
	return 0;
}
