/*
 * fuzz_agent_body: the push message decoder (pushmsg_decode, common.h) on
 * its own, as the agent runs it on every request body: what it accepts must
 * be a state agent_state_apply can take as it is, and encode back to a body
 * that decodes to the same state.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pushmsg m, again;
	char err[320], *body;

	if (size > AGENT_MAX_BODY)
		return 0;
	err[0] = '\0';
	if (pushmsg_decode((const char *)data, size, &m, err, sizeof(err)) == -1) {
		if (err[0] == '\0' || strchr(err, ':') == NULL)
			abort();        /* a 400 names the field and the reason */
		return 0;
	}
	if (!secret_id_valid(m.user_id, "u_") || m.version < 1 ||
	    pushmsg_state_name(m.state) == NULL)
		abort();
	if (m.state == PUSHMSG_PRESENT ? !name_handle_valid(m.role) ||
	    !pushmsg_verifier_valid(m.verifier) :
	    m.role[0] != '\0' || m.verifier[0] != '\0')
		abort();
	body = pushmsg_encode(&m);
	if (pushmsg_decode(body, strlen(body), &again, err, sizeof(err)) == -1 ||
	    memcmp(&m, &again, sizeof(m)) != 0)
		abort();
	crypto_wipe(body, strlen(body));
	free(body);
	crypto_wipe(&m, sizeof(m));
	crypto_wipe(&again, sizeof(again));
	return 0;
}
