#include <stdbool.h>
#include <stdint.h>
#include <stdarg.h>
#include <time.h>
#include <sys/time.h>
#include "utils_base.h"
#include "extra_opts.h"
#include "sf_common.h"
const char *progname = "check_smtp_fixup";
static char plugin_name[] = "check_smtp_fixup";
void print_usage(void);
void print_usage(void) {}
int main(int argc, char **argv)
{
	char **av;
	np_init(plugin_name, argc, argv);
	av = np_extra_opts(&argc, argv, progname);
	(void)av;
	return SF_UNKNOWN;
}
