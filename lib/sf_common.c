/*
 * sf_common.c - monitoring states: names, parsing, ordering.
 */
#include "sf_common.h"

#include <strings.h>

const char *sf_state_name(int state)
{
	switch (state) {
	case SF_OK:
		return "OK";
	case SF_WARNING:
		return "WARNING";
	case SF_CRITICAL:
		return "CRITICAL";
	default:
		return "UNKNOWN";
	}
}

int sf_state_parse(const char *s, enum sf_state *out)
{
	static const struct {
		const char *word;
		const char *digit;
		enum sf_state state;
	} names[] = {
		{"ok", "0", SF_OK},
		{"warning", "1", SF_WARNING},
		{"critical", "2", SF_CRITICAL},
		{"unknown", "3", SF_UNKNOWN},
	};

	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		if (strcasecmp(s, names[i].word) == 0 ||
		    (s[0] == names[i].digit[0] && s[1] == '\0')) {
			*out = names[i].state;
			return 0;
		}
	}
	return -1;
}

int sf_state_rank(enum sf_state s)
{
	switch (s) {
	case SF_OK:
		return 0;
	case SF_UNKNOWN:
		return 1;
	case SF_WARNING:
		return 2;
	case SF_CRITICAL:
		return 3;
	default:
		return 1; /* an out-of-range state is treated as UNKNOWN */
	}
}

enum sf_state sf_state_worst(enum sf_state a, enum sf_state b)
{
	return sf_state_rank(b) > sf_state_rank(a) ? b : a;
}
