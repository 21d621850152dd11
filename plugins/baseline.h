/*
 * baseline.h - --baseline: the greeting and EHLO keywords of the last run
 * without findings, kept with libmonitoringplug's state retention (the
 * only user of np_state_* in the plugin), compared with on the next run.
 *
 * The state file is read here, not by libmonitoringplug: a file that is not
 * a regular file (a folder, a FIFO) or holds a NUL is refused without
 * blocking or reading outside a buffer. Writing goes through
 * np_state_write_string() once the folder is known to be writable.
 */
#ifndef BASELINE_H
#define BASELINE_H

#include <stddef.h>
#include <time.h>

#include "session.h"

#define BASELINE_VERSION 2
#define BASELINE_ADOPT 3 /* identical changed runs that make the change the new baseline */
#define BASELINE_BANNER_MAX 300U
#define BASELINE_LINE_MAX 1000U
#define BASELINE_KW_MAX 64U
#define BASELINE_KEY_MAX 200U
#define BASELINE_WHY_MAX 600U

/* The last clean run. */
struct baseline {
	int have;                          /* read from the state */
	int cut;                           /* banner is the start of a longer line */
	char banner[BASELINE_BANNER_MAX + 1];
	char kwbuf[BASELINE_LINE_MAX + 1];
	const char *kw[BASELINE_KW_MAX];
	size_t nkw;
	time_t since;                      /* when it was recorded */
	/* A change seen in runs otherwise clean, waiting to become the
	 * baseline after BASELINE_ADOPT identical runs in a row. */
	char cand[BASELINE_LINE_MAX + 1];  /* its state line ("" if none) */
	unsigned cand_runs;                /* runs in a row that showed it */
};

/* The state key for host and port into buf; -1 if it does not fit. */
int baseline_key(const char *host, const char *port, char *buf, size_t bufsz);

/* Parse the state's data line into bl; -1 if it is not ours. */
int baseline_parse(const char *line, struct baseline *bl);

/* The data line for what s saw into buf (size BASELINE_LINE_MAX + 1). */
void baseline_format(const struct session_result *r, char *buf);

/* Turn state retention on for host:port (np_enable_state). -1 with why
 * when the key cannot be made. */
int baseline_enable(const char *host, const char *port, char *why, size_t whysz);

/* Read the last clean run into bl (bl->have 0 when there is none or it is
 * not ours; *unreadable then says whether a file was there). -1 with why
 * when the state cannot be used at all: this host's problem. */
int baseline_load(struct baseline *bl, int *unreadable, char *why, size_t whysz);

/* Record r as the new baseline. -1 with why when it cannot be written. */
int baseline_keep(const struct session_result *r, char *why, size_t whysz);

/* A run that differs from bl only by what the baseline compares, and is
 * otherwise clean: count it towards making it the new baseline, and make
 * it so after BASELINE_ADOPT identical runs in a row (a greeting or list
 * that changed for good stops warning). *adopted says whether it was.
 * -1 with why when the state cannot be written. */
int baseline_candidate(const struct baseline *bl, const struct session_result *r, int *adopted,
		       unsigned *runs, char *why, size_t whysz);

/* A run that is neither clean nor only changed: the change in waiting
 * is no longer seen in a row; drop it. -1 with why when the state cannot
 * be written. */
int baseline_forget_candidate(const struct baseline *bl, char *why, size_t whysz);

/* The time bl was recorded, "YYYY-MM-DD HH:MM UTC", into buf. */
void baseline_since(const struct baseline *bl, char *buf, size_t bufsz);

/* Free what np_cleanup() forgets (the state file's name). */
void baseline_release(void);

#endif /* BASELINE_H */
