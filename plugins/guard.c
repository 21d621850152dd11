/*
 * guard.c - our prefix on libmonitoringplug's die() (see guard.h).
 *
 * exit() runs the handlers registered with atexit() before it flushes
 * stdio, so the handler still finds the memory stream open and can put the
 * real stdout back before anything reaches it.
 */
#include "guard.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sf_text.h"

#define GUARD_SHOWN_MAX 400U /* escaped octets of the captured message */

static FILE *real_stdout;   /* stdout while guarded, else NULL */
static FILE *mem;           /* the memory stream stdout points to */
static char *mem_buf;
static size_t mem_len;
static const char *guard_what;
static int guard_usage;     /* add the usage after the line (option errors) */

/* The plugin's usage text (check_smtp_fixup.c; libmonitoringplug asks for
 * it too). */
void print_usage(void);
static int handler_set;

/* Put stdout back; 1 if a capture was running. */
static int restore(void)
{
	if (real_stdout == NULL)
		return 0;
	fflush(mem);
	stdout = real_stdout;
	real_stdout = NULL;
	fclose(mem);
	mem = NULL;
	return 1;
}

static void on_exit_guarded(void)
{
	char shown[GUARD_SHOWN_MAX];
	size_t len;

	if (!restore())
		return;
	/* after fclose() the buffer is there, NUL-terminated (POSIX) */
	len = strlen(mem_buf);
	while (len > 0 && isspace((unsigned char)mem_buf[len - 1]))
		len--;
	sf_escape(shown, sizeof shown, mem_buf, len);
	printf("%s UNKNOWN - %s: %s\n", GUARD_PREFIX, guard_what,
	       len > 0 ? shown : "libmonitoringplug gave up without a reason");
	if (guard_usage)
		print_usage();
	free(mem_buf);
	mem_buf = NULL;
	fflush(stdout);
}

void guard_begin_usage(const char *what)
{
	guard_begin(what);
	guard_usage = real_stdout != NULL;
}

void guard_begin(const char *what)
{
	FILE *m;

	if (real_stdout != NULL)
		return; /* already guarded */
	fflush(stdout);
	m = open_memstream(&mem_buf, &mem_len);
	if (m == NULL) {
		/* no memory for a stream of a few octets: the call guarded
		 * would fail the same way, in libmonitoringplug's words */
		printf("%s UNKNOWN - out of memory (%s)\n", GUARD_PREFIX, what);
		exit(3); /* UNKNOWN, as libmonitoringplug's die() would */
	}
	if (!handler_set)
		handler_set = atexit(on_exit_guarded) == 0;
	guard_what = what;
	mem = m;
	real_stdout = stdout;
	stdout = m;
}

void guard_end(void)
{
	guard_usage = 0;
	restore();
	free(mem_buf); /* what was captured (nothing, normally) is dropped */
	mem_buf = NULL;
}
