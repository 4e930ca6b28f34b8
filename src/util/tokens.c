#include "util/tokens.h"

bool tokens_take(uint32_t *tokens, mtime_ns *refilled, uint32_t rate, uint32_t burst,
		 mtime_ns now)
{
	const mtime_ns per_token = SEC(1) / rate;

	if (now > *refilled) {
		mtime_ns n = (now - *refilled) / per_token;

		if (n >= burst - *tokens) {
			*tokens = burst;
			*refilled = now;
		} else {
			*tokens += (uint32_t)n;
			*refilled += n * per_token;
		}
	}
	if (*tokens == 0)
		return false;
	(*tokens)--;
	return true;
}
