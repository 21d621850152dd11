/*
 * sf_text.h - small text helpers for output: escaping what a peer sent so
 * that it cannot break the plugin output format, and perfdata formatting
 * (monitoring-plugins guidelines: 'label'=value[UOM];[warn];[crit];[min];[max]).
 */
#ifndef SF_TEXT_H
#define SF_TEXT_H

#include <stddef.h>

/* Copy src[0..len) into dst (size dstsz, always NUL-terminated when dstsz >
 * 0) with every octet outside printable ASCII, every backslash and every
 * '|' (which would start perfdata) written as \xNN. Stops at a whole escape
 * that would not fit and ends with "..." when it had to cut. Returns the
 * length written. */
size_t sf_escape(char *dst, size_t dstsz, const char *src, size_t len);

/* Append one perfdata item to dst (size dstsz, NUL-terminated): a leading
 * space if dst is not empty, then the label (quoted if it holds a blank, '='
 * or quote; quotes in it doubled), '=', value, uom, then ";warn;crit;min;max"
 * with empty fields for NULL, trailing empty fields dropped. Returns 0, or -1
 * if it did not fit (dst unchanged). */
int sf_perfdata_append(char *dst, size_t dstsz, const char *label, const char *value,
		       const char *uom, const char *warn, const char *crit,
		       const char *min, const char *max);

#endif /* SF_TEXT_H */
