/*
 * replay.c - main() for a fuzz target built without libFuzzer (any C
 * compiler): runs LLVMFuzzerTestOneInput() once on each input, so that
 * "make check" replays the seed corpus and tests/fuzz/regressions/.
 *
 *   replay_TARGET [-q] PATH...
 *
 * A PATH that is a folder stands for its files, sorted by name; names that
 * start with '.' or "README" are skipped. Each input is copied into a
 * buffer of its exact size, so that a read past its end is seen by ASan or
 * valgrind. The name of each input is printed before it runs (unless -q),
 * so the last name printed is the one that broke an invariant: a broken
 * invariant aborts.
 *
 * Exit: 0 when every input ran, 1 if a path could not be read, 2 for bad
 * usage.
 */
#include "fuzz.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define REPLAY_INPUT_MAX ((size_t)4 << 20) /* octets of one input (4 MiB) */
#define REPLAY_PATH_MAX 4096U

static int quiet;
static unsigned long ninputs;

/* Read the whole file into a buffer of its exact size (1 for an empty file). */
static int read_input(const char *path, uint8_t **out, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t cap = 0, n = 0;

	if (f == NULL)
		return -1;
	for (;;) {
		uint8_t chunk[8192];
		size_t got = fread(chunk, 1, sizeof chunk, f);

		if (got == 0)
			break;
		if (n + got > REPLAY_INPUT_MAX) {
			fprintf(stderr, "replay: %s: more than %zu octets\n", path, REPLAY_INPUT_MAX);
			free(buf);
			fclose(f);
			return -1;
		}
		if (n + got > cap) {
			size_t ncap = cap ? 2 * cap : sizeof chunk;
			uint8_t *nb;

			while (ncap < n + got)
				ncap *= 2;
			nb = realloc(buf, ncap);
			if (nb == NULL) {
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap = ncap;
		}
		memcpy(buf + n, chunk, got);
		n += got;
	}
	if (ferror(f)) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* exact size, so that an over-read leaves the block */
	*out = malloc(n ? n : 1);
	if (*out == NULL) {
		free(buf);
		return -1;
	}
	if (n > 0)
		memcpy(*out, buf, n);
	free(buf);
	*len = n;
	return 0;
}

static int run_file(const char *path)
{
	uint8_t *data = NULL;
	size_t len = 0;

	if (read_input(path, &data, &len) != 0) {
		fprintf(stderr, "replay: cannot read %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (!quiet) {
		printf("replay: %s (%zu octets)\n", path, len);
		fflush(stdout);
	}
	(void)LLVMFuzzerTestOneInput(data, len);
	free(data);
	ninputs++;
	return 0;
}

/* scandir() filter: not hidden files, not README files. */
static int wanted(const struct dirent *d)
{
	return d->d_name[0] != '.' && strncmp(d->d_name, "README", 6) != 0;
}

static int run_dir(const char *dir)
{
	struct dirent **names = NULL;
	int n = scandir(dir, &names, wanted, alphasort);
	int rc = 0;

	if (n < 0) {
		fprintf(stderr, "replay: cannot read folder %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[REPLAY_PATH_MAX];
		struct stat st;
		int w = snprintf(path, sizeof path, "%s/%s", dir, names[i]->d_name);

		if (w < 0 || (size_t)w >= sizeof path) {
			fprintf(stderr, "replay: path too long in %s\n", dir);
			rc = -1;
		} else if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && run_file(path) != 0) {
			rc = -1;
		}
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	int first = 1, rc = 0;

	if (argc > 1 && strcmp(argv[1], "-q") == 0) {
		quiet = 1;
		first = 2;
	}
	if (first >= argc) {
		fprintf(stderr, "usage: %s [-q] FILE-OR-FOLDER...\n", argv[0]);
		return 2;
	}
	for (int i = first; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) != 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			rc = 1;
		} else if (S_ISDIR(st.st_mode) ? run_dir(argv[i]) != 0 : run_file(argv[i]) != 0) {
			rc = 1;
		}
	}
	printf("replay: %lu inputs ran, no invariant broken%s\n", ninputs,
	       rc ? "; some paths could not be read" : "");
	return rc;
}
