/*
 * bench_keys.c - time parse + plan + keys of one Dockerfile, in-process.
 *
 *   bench_keys DOCKERFILE [RUNS]
 *
 * Reads the file once, then RUNS times (default 30) parses it, resolves
 * the plan for the last stage on linux/amd64 and computes every key,
 * measuring each round with CLOCK_MONOTONIC. Prints the median and the
 * minimum in milliseconds, and the numbers of lines, mounts and keys.
 */
#include "core/plan/buildplan.h"
#include "core/dockerfile/dockerfile.h"
#include "core/util/error.h"
#include "core/plan/keys.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    int runs = argc > 2 ? atoi(argv[2]) : 30;
    double *ms;
    size_t lines = 0, nuses = 0, nkeys = 0;

    if (argc < 2 || runs < 1) {
        fprintf(stderr, "usage: bench_keys DOCKERFILE [RUNS]\n");
        return 2;
    }
    if (bk_strbuf_read_file(&sb, argv[1])) {
        fprintf(stderr, "bench_keys: %s\n", bk_error_msg());
        return 1;
    }
    for (size_t i = 0; i < sb.len; i++)
        lines += sb.buf[i] == '\n';
    ms = calloc((size_t)runs, sizeof(double));
    for (int r = 0; r < runs; r++) {
        struct bk_dockerfile *df = NULL;
        struct bk_buildplan *plan = NULL;
        struct bk_keyset *ks = NULL;
        struct bk_build_opts bo = {NULL, NULL, "linux/amd64", "linux/amd64"};
        struct bk_key_opts ko = {NULL, NULL, NULL, NULL, NULL};
        struct timespec t0, t1;

        clock_gettime(CLOCK_MONOTONIC, &t0);
        if (bk_dockerfile_parse(sb.buf, sb.len, argv[1], &df) ||
            bk_buildplan_resolve(df, &bo, &plan) || bk_keys_compute(plan, &ko, &ks)) {
            fprintf(stderr, "bench_keys: %s\n", bk_error_msg());
            return 1;
        }
        clock_gettime(CLOCK_MONOTONIC, &t1);
        ms[r] = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
        nuses = plan->nuses;
        nkeys = ks->n;
        bk_keyset_free(ks);
        bk_buildplan_free(plan);
        bk_dockerfile_free(df);
    }
    qsort(ms, (size_t)runs, sizeof(double), cmp_double);
    printf("lines=%zu mounts=%zu keys=%zu runs=%d median_ms=%.2f min_ms=%.2f\n", lines, nuses,
           nkeys, runs, ms[runs / 2], ms[0]);
    free(ms);
    bk_strbuf_release(&sb);
    return 0;
}
