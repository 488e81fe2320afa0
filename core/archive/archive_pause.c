/*
 * archive_pause.c - the tests' way of stopping an unpack at a named point.
 *
 * bk_archive_pause_from_env() fills a pack's or an unpack's checkpoint from
 * an environment variable naming a point ("pack", "unpack" or "swap", see
 * struct bk_archive_checkpoint). At that point the process renames itself
 * "bkcache-paused" (what /proc/PID/comm shows), says so on stderr and sleeps
 * for up to 120 s, so that a test can kill it, or what runs it, exactly
 * there. With the variable unset or empty nothing is set: normal runs never
 * pause.
 */
#include "core/archive/archive.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

static void pause_at(const char *point, void *arg)
{
    char name[16] = "";

    if (strcmp(point, (const char *)arg) != 0)
        return;
    prctl(PR_GET_NAME, name, 0, 0, 0);
    prctl(PR_SET_NAME, "bkcache-paused", 0, 0, 0);
    fprintf(stderr, "%s: paused at %s (pid %ld)\n", name, point, (long)getpid());
    for (int i = 0; i < 120; i++)
        sleep(1);
    prctl(PR_SET_NAME, name, 0, 0, 0);
}

void bk_archive_pause_from_env(struct bk_archive_checkpoint *cp, const char *var)
{
    const char *point = getenv(var);
    if (!point || !*point)
        return;
    cp->fn = pause_at;
    cp->arg = (void *)point;
}
