/*
 * guard.h - libmonitoringplug ends the process itself on an error: die()
 * prints a message on stdout, without our "SMTP FIXUP UNKNOWN - " prefix
 * and sometimes without a newline, then exits with UNKNOWN. Around each
 * call into it that may die (--extra-opts, thresholds, state retention),
 * guard_begin() sends stdout to memory; if the process exits before
 * guard_end(), an exit handler prints the captured words as one escaped
 * status line with our prefix. No memory for the capture itself ends the
 * process at once, UNKNOWN "out of memory (what)".
 */
#ifndef GUARD_H
#define GUARD_H

#define GUARD_PREFIX "SMTP FIXUP"

/* Capture stdout from here; what says what was being done ("--extra-opts"). */
void guard_begin(const char *what);

/* The same, for an option's error: the usage follows the line. */
void guard_begin_usage(const char *what);

/* Stop capturing; what was captured (nothing, normally) is dropped. */
void guard_end(void);

#endif /* GUARD_H */
