/*
 * test_core_builder_explain.c - the one-line explanations of a failed
 * client, from what real clients printed (tests/data/clients/, recorded by
 * its record.sh): one test per message per client version. A build whose
 * own RUN fails with "no such file or directory" or "permission denied"
 * must stay a failed build, not become an unreachable daemon or advice
 * about the docker group. buildctl's messages are written from BuildKit's
 * client code (no buildctl on the test machine).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "core/builder/builder.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CLIENTS "tests/data/clients/"

enum expect { UNREACHABLE, DENIED, NO_BUILDX, FAILED };

struct explain_case {
    const char *name;   /* the test's name */
    const char *source; /* a recording under tests/data/clients, or NULL */
    const char *text;   /* else this output */
    enum expect expect; /* what it must mean */
    const char *quote;  /* a part of the message, or NULL */
};

static const struct explain_case cases[] = {
    /* docker 20.10.24, no buildx */
    {"docker20 version, daemon down", "docker20/down-version", NULL, UNREACHABLE,
     "Cannot connect to the Docker daemon at unix:///nonexistent/docker.sock"},
    {"docker20 version, tcp daemon down", "docker20/tcpdown-version", NULL, UNREACHABLE,
     "tcp://127.0.0.1:9"},
    {"docker20 build, daemon down", "docker20/down-build", NULL, UNREACHABLE, NULL},
    {"docker20 version, socket denied", "docker20/denied-version", NULL, DENIED,
     "connect: permission denied"},
    {"docker20 build, socket denied (gRPC dial)", "docker20/denied-build", NULL, DENIED,
     "failed to dial gRPC"},
    {"docker20 buildx, no plugin", "docker20/buildx-version", NULL, NO_BUILDX, NULL},
    {"docker20 RUN: no such file or directory", "docker20/build-missing-exec", NULL, FAILED,
     "executor failed running [/bkcache-no-such-program]: exit code: 1"},
    {"docker20 RUN: permission denied", "docker20/build-noexec", NULL, FAILED,
     "executor failed running [/x]: exit code: 1"},
    /* docker 26.1.5 with buildx 0.13.1 */
    {"docker26 version, daemon down", "docker26-buildx0.13/down-version", NULL, UNREACHABLE,
     "Is the docker daemon running?"},
    {"docker26 version, tcp daemon down", "docker26-buildx0.13/tcpdown-version", NULL, UNREACHABLE,
     NULL},
    {"docker26 buildx build, daemon down", "docker26-buildx0.13/down-build", NULL, UNREACHABLE,
     "ERROR: Cannot connect"},
    {"docker26 version, socket denied", "docker26-buildx0.13/denied-version", NULL, DENIED, NULL},
    {"docker26 buildx build, socket denied", "docker26-buildx0.13/denied-build", NULL, DENIED,
     "ERROR: permission denied while trying to connect"},
    {"docker26 buildx RUN: no such file or directory", "docker26-buildx0.13/build-missing-exec",
     NULL, FAILED, "ERROR: failed to solve: process \"/bkcache-no-such-program\""},
    {"docker26 buildx RUN: permission denied", "docker26-buildx0.13/build-noexec", NULL, FAILED,
     "ERROR: failed to solve: process \"/x\""},
    /* docker 26.1.5 without buildx */
    {"docker26 no buildx: build --help", "docker26-nobuildx/build-help", NULL, NO_BUILDX, NULL},
    {"docker26 no buildx: build", "docker26-nobuildx/build-ok", NULL, NO_BUILDX, NULL},
    {"docker26 no buildx: buildx version", "docker26-nobuildx/buildx-version", NULL, NO_BUILDX,
     NULL},
    {"docker26 no buildx: version, daemon down", "docker26-nobuildx/down-version", NULL,
     UNREACHABLE, NULL},
    {"docker26 no buildx: version, socket denied", "docker26-nobuildx/denied-version", NULL, DENIED,
     NULL},
    /* the docker 28.2.2 client without buildx */
    {"docker28 no buildx: build --help", "docker28-nobuildx/build-help", NULL, NO_BUILDX, NULL},
    {"docker28 no buildx: buildx version", "docker28-nobuildx/buildx-version", NULL, NO_BUILDX,
     NULL},
    {"docker28 version, daemon down", "docker28-nobuildx/down-version", NULL, UNREACHABLE, NULL},
    {"docker28 version, tcp daemon down", "docker28-nobuildx/tcpdown-version", NULL, UNREACHABLE,
     NULL},
    {"docker28 version, socket denied", "docker28-nobuildx/denied-version", NULL, DENIED, NULL},
    /* buildctl (BuildKit's client): its "error: " prefix and gRPC dial errors */
    {"buildctl, no buildkitd socket", NULL,
     "error: listing workers: connection error: desc = \"transport: error while dialing: dial "
     "unix /run/buildkit/buildkitd.sock: connect: no such file or directory\"\n",
     UNREACHABLE, "dial unix /run/buildkit/buildkitd.sock"},
    {"buildctl, buildkitd refuses tcp", NULL,
     "error: listing workers: connection error: desc = \"transport: error while dialing: dial "
     "tcp 127.0.0.1:1234: connect: connection refused\"\n",
     UNREACHABLE, NULL},
    {"buildctl, socket denied", NULL,
     "error: listing workers: connection error: desc = \"transport: error while dialing: dial "
     "unix /run/buildkit/buildkitd.sock: connect: permission denied\"\n",
     DENIED, NULL},
    {"buildctl build: a RUN's no such file or directory", NULL,
     "#5 0.101 runc run failed: unable to start container process: exec: \"/h\": stat /h: no "
     "such file or directory\n"
     "error: failed to solve: process \"/h\" did not complete successfully: exit code: 1\n",
     FAILED, "error: failed to solve"},
    /* words that only look like the clients' messages */
    {"a RUN that prints the daemon message", NULL,
     "#4 0.2 Cannot connect to the Docker daemon at unix:///var/run/docker.sock.\n"
     "#4 ERROR: process \"/bin/sh -c docker ps\" did not complete successfully: exit code: 1\n",
     FAILED, "exit code: 1"},
};

static void test_explain(void **state)
{
    const struct explain_case *c = *state;
    struct bk_strbuf out = BK_STRBUF_INIT;
    const char *text = c->text;
    int rc;

    if (c->source) {
        char *path = bk_xasprintf(CLIENTS "%s.txt", c->source);
        const char *nl;
        assert_int_equal(bk_strbuf_read_file(&out, path), BK_OK);
        free(path);
        nl = strchr(out.buf, '\n'); /* the recording's "rc=N" line */
        assert_non_null(nl);
        text = nl + 1;
    }
    rc = bk_builder__explain("docker", "build", text);
    switch (c->expect) {
    case UNREACHABLE:
        assert_int_equal(rc, BK_ERR);
        assert_non_null(strstr(bk_error_msg(), "the daemon is unreachable (is it running?)"));
        break;
    case DENIED:
        assert_int_equal(rc, BK_EDENIED);
        assert_non_null(strstr(bk_error_msg(), "permission denied talking to the daemon"));
        break;
    case NO_BUILDX:
        assert_int_equal(rc, BK_ERR);
        assert_non_null(strstr(bk_error_msg(), "only through the buildx component"));
        break;
    case FAILED:
        assert_int_equal(rc, BK_ERR);
        assert_non_null(strstr(bk_error_msg(), "docker: build failed: "));
        break;
    }
    if (c->quote && !strstr(bk_error_msg(), c->quote))
        fail_msg("'%s' does not quote '%s'", bk_error_msg(), c->quote);
    assert_null(strchr(bk_error_msg(), '\n'));
    bk_strbuf_release(&out);
}

int main(void)
{
    enum { N = sizeof(cases) / sizeof(cases[0]) };
    struct CMUnitTest tests[N];

    for (size_t i = 0; i < N; i++) {
        struct CMUnitTest t = {cases[i].name, test_explain, NULL, NULL, (void *)&cases[i]};
        tests[i] = t;
    }
    return cmocka_run_group_tests_name("core/builder explain", tests, NULL, NULL);
}
