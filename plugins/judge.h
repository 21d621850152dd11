/*
 * judge.h - one target's verdict: its facts handed to lib's judge.
 */
#ifndef JUDGE_H
#define JUDGE_H

#include "baseline.h"
#include "options.h"
#include "plan.h"
#include "sf_verdict.h"

/* The verdict on tg (*out, the caller frees it with sf_verdict_free):
 * bl is the baseline or NULL, time_state the response time against -w/-c.
 * 0, or -1 if memory ran out. */
int judge_target(const struct config *cfg, const struct plan *p, const struct target *tg,
		 const struct baseline *bl, enum sf_state time_state, struct sf_verdict **out);

#endif /* JUDGE_H */
