/*
 * report.h - the only place that prints a result: the status line (state,
 * summary, perfdata), then the long output, in the monitoring-plugins
 * format (SERVICE STATE - text | perfdata, long output on later lines).
 * Every text that came from outside (a peer, an option, the environment)
 * is escaped on the way out (sf_escape): no '|' or line end of theirs can
 * split the status line.
 */
#ifndef REPORT_H
#define REPORT_H

#include "options.h"
#include "plan.h"
#include "sf_verdict.h"

#define REPORT_PREFIX "SMTP FIXUP"

/* One status line and nothing else, e.g. for a check that could not run:
 * "SMTP FIXUP STATE - text". text is escaped here. */
void report_status(enum sf_state st, const char *text);

/* The whole output of a check: v[i] is target i's verdict. note is said
 * after the summary (unescaped, may be ""); extra is a state the check's
 * own problems add (-D hosts without an address, the baseline). Returns
 * the state printed. */
enum sf_state report_check(const struct config *cfg, const struct plan *p,
			   struct sf_verdict *const *v, const char *note, enum sf_state extra);

#endif /* REPORT_H */
