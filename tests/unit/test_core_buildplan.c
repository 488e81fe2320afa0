/*
 * test_core_buildplan.c - stages, closure, variables and cache identities
 * (core/plan/buildplan*.c), against the rules of
 * ../shared/specs/dockerfile-cache-mounts.md sections 2 to 7, starting with
 * its section 5 worked example.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/plan/buildplan.h"
#include "core/util/error.h"
#include "core/util/strvec.h"

#include <stdlib.h>
#include <string.h>

struct fixture {
    struct bk_dockerfile *df;
    struct bk_buildplan *plan;
};

/* Resolve `text`; args are NULL-terminated "K=V" build args. */
static int resolve(struct fixture *f, const char *text, const char *target, const char *platform,
                   const char *const *args)
{
    struct bk_strvec ba = BK_STRVEC_INIT;
    struct bk_build_opts o = {target, &ba, platform ? platform : "linux/amd64", "linux/amd64"};
    int rc;

    memset(f, 0, sizeof(*f));
    for (size_t i = 0; args && args[i]; i++)
        bk_strvec_push(&ba, args[i]);
    rc = bk_dockerfile_parse(text, strlen(text), "Dockerfile", &f->df);
    if (rc == 0)
        rc = bk_buildplan_resolve(f->df, &o, &f->plan);
    bk_strvec_clear(&ba);
    return rc;
}

static void release(struct fixture *f)
{
    bk_buildplan_free(f->plan);
    bk_dockerfile_free(f->df);
}

static void ok(struct fixture *f, const char *text, const char *target, const char *platform,
               const char *const *args)
{
    if (resolve(f, text, target, platform, args) != 0)
        fail_msg("resolve failed: %s", bk_error_msg());
}

static void fails(const char *text, const char *target, const char *msg)
{
    struct fixture f;
    if (resolve(&f, text, target, NULL, NULL) == 0)
        fail_msg("resolve should fail with '%s'", msg);
    if (!strstr(bk_error_msg(), msg))
        fail_msg("message '%s' lacks '%s'", bk_error_msg(), msg);
    assert_null(f.plan);
    bk_dockerfile_free(f.df);
}

static const char k_spec_example[] =
    "ARG GOVER=1.22\n"
    "FROM golang:${GOVER} AS base\n"
    "ENV CDIR=/root/.cache\n"
    "WORKDIR /app\n"
    "RUN --mount=type=cache,target=$CDIR/go-build \\\n"
    "    --mount=type=cache,target=node_modules,uid=1000,gid=1000,mode=0700 \\\n"
    "    --mount=type=cache,id=apt-$GOVER,target=/var/cache/apt,sharing=locked true\n"
    "FROM alpine AS unused\n"
    "RUN --mount=type=cache,target=/unused true\n"
    "FROM base AS child\n"
    "ARG TARGETARCH\n"
    "RUN --mount=type=cache,id=x-${TARGETARCH},target=/x,from=unused,source=/etc true\n";

static void test_spec_worked_example(void **state)
{
    struct fixture f;
    const struct bk_mount_use *u;

    ok(&f, k_spec_example, NULL, NULL, NULL);
    assert_int_equal(f.plan->nstages, 3);
    assert_string_equal(f.plan->stages[f.plan->target].label, "child");
    assert_string_equal(f.plan->stages[0].base, "golang:1.22");
    assert_int_equal(f.plan->nuses, 5);
    u = f.plan->uses;
    assert_string_equal(u[0].cache_id, "//root/.cache/go-build");
    assert_string_equal(u[0].target, "/root/.cache/go-build");
    assert_false(u[0].has_base);
    assert_string_equal(u[1].cache_id, "/node_modules");
    assert_string_equal(u[1].id, "node_modules");
    assert_string_equal(u[1].target, "/app/node_modules");
    assert_true(u[1].has_base);
    assert_int_equal(u[1].uid, 1000);
    assert_int_equal(u[1].gid, 1000);
    assert_int_equal(u[1].mode, 0700);
    assert_string_equal(u[2].cache_id, "/apt-"); /* GOVER not re-declared: empty */
    assert_int_equal(u[2].sharing, BK_SHARING_LOCKED);
    assert_string_equal(u[3].stage_label, "unused");
    assert_string_equal(u[3].cache_id, "//unused");
    assert_string_equal(u[4].stage_label, "child");
    assert_string_equal(u[4].cache_id, "/x-amd64");
    assert_string_equal(u[4].target, "/x");
    assert_string_equal(u[4].from, "unused");
    assert_int_equal(u[4].from_stage, 1);
    assert_string_equal(u[4].source, "/etc");
    assert_int_equal(u[0].line, 5);
    assert_int_equal(u[4].line, 12);
    assert_int_equal(f.plan->nidentities, 5);
    assert_string_equal(f.plan->identities[1].descriptor,
                        "cache_id=/node_modules base=mkdir(1000,1000,0700)");
    assert_string_equal(f.plan->identities[4].descriptor, "cache_id=/x-amd64 base=from(unused)");
    release(&f);

    ok(&f, k_spec_example, "base", NULL, NULL);
    assert_int_equal(f.plan->nuses, 3);
    assert_false(f.plan->stages[1].in_closure);
    release(&f);

    static const char *const ns[] = {"BUILDKIT_CACHE_MOUNT_NS=NS", NULL};
    ok(&f, k_spec_example, NULL, NULL, ns);
    assert_string_equal(f.plan->uses[0].cache_id, "NS//root/.cache/go-build");
    assert_string_equal(f.plan->uses[1].cache_id, "NS/node_modules");
    assert_string_equal(f.plan->uses[2].cache_id, "NS/apt-");
    assert_string_equal(f.plan->uses[1].id, "node_modules");
    release(&f);
}

static void test_namespace_only_from_build_arg(void **state)
{
    struct fixture f;
    ok(&f,
       "ARG BUILDKIT_CACHE_MOUNT_NS=x\nFROM alpine\nARG BUILDKIT_CACHE_MOUNT_NS=y\n"
       "RUN --mount=type=cache,id=pnpm,target=/p true\n",
       NULL, NULL, NULL);
    assert_string_equal(f.plan->uses[0].cache_id, "/pnpm");
    assert_string_equal(f.plan->ns, "");
    release(&f);
}

static void test_onbuild_direct_children_only(void **state)
{
    struct fixture f;
    ok(&f,
       "FROM alpine AS p\n"
       "ENV V=one\n"
       "ONBUILD RUN --mount=type=cache,target=/ob-$V true\n"
       "FROM p AS child\n"
       "ENV V=two\n"
       "FROM child AS grandchild\n",
       NULL, NULL, NULL);
    assert_int_equal(f.plan->nuses, 1);
    assert_string_equal(f.plan->uses[0].stage_label, "child");
    assert_string_equal(f.plan->uses[0].cache_id, "//ob-one"); /* the parent's env */
    assert_int_equal(f.plan->uses[0].line, 3);
    release(&f);

    ok(&f, "FROM alpine AS p\nONBUILD RUN --mount=type=cache,target=/o true\n", NULL, NULL, NULL);
    assert_int_equal(f.plan->nuses, 0); /* never in the declaring stage */
    release(&f);
}

static void test_onbuild_from_pulls_stage(void **state)
{
    struct fixture f;
    ok(&f,
       "FROM alpine AS seed\nRUN --mount=type=cache,target=/seed true\n"
       "FROM alpine AS p\nONBUILD COPY --from=seed /a /b\n"
       "FROM p\n",
       NULL, NULL, NULL);
    assert_true(f.plan->stages[0].in_closure);
    assert_int_equal(f.plan->nuses, 1);
    release(&f);
}

static void test_from_closure_and_numeric(void **state)
{
    struct fixture f;
    ok(&f,
       "FROM alpine AS zero\nRUN --mount=type=cache,target=/zero true\n"
       "FROM alpine AS named\nRUN --mount=type=cache,target=/named true\n"
       "FROM alpine\n"
       "RUN --mount=type=cache,target=/a,from=0 --mount=type=tmpfs,target=/t,from=NAMED true\n",
       NULL, NULL, NULL);
    assert_false(f.plan->stages[0].in_closure); /* from=0 is an image */
    assert_true(f.plan->stages[1].in_closure);  /* any type, case-insensitive */
    assert_int_equal(f.plan->nuses, 2);
    assert_string_equal(f.plan->uses[0].cache_id, "//named");
    assert_string_equal(f.plan->uses[1].from, "0");
    assert_int_equal(f.plan->uses[1].from_stage, -1);
    release(&f);

    ok(&f,
       "FROM alpine AS a\nRUN --mount=type=cache,target=/a true\n"
       "FROM alpine\nCOPY --from=0 /x /y\n",
       NULL, NULL, NULL);
    assert_true(f.plan->stages[0].in_closure); /* COPY --from takes indexes */
    release(&f);
}

static void test_from_stage_case_rule(void **state)
{
    struct fixture f;
    fails("FROM alpine AS builder\nFROM Builder\n", NULL,
          "Dockerfile:2: failed to parse stage name \"Builder\": invalid reference format");
    ok(&f, "FROM alpine AS Builder\nRUN --mount=type=cache,target=/b true\nFROM builder\n", NULL,
       NULL, NULL);
    assert_int_equal(f.plan->stages[1].parent, 0);
    assert_int_equal(f.plan->nuses, 1);
    release(&f);
    /* a later stage is an image, not a parent */
    ok(&f, "FROM later\nFROM alpine AS later\n", NULL, NULL, NULL);
    assert_int_equal(f.plan->stages[0].parent, -1);
    release(&f);
    /* FROM picks a stage through a global ARG */
    ok(&f,
       "ARG IMPL=${TARGETOS}\nFROM alpine AS impl-linux\nRUN --mount=type=cache,target=/l true\n"
       "FROM impl-${IMPL}\n",
       NULL, NULL, NULL);
    assert_int_equal(f.plan->stages[1].parent, 0);
    assert_int_equal(f.plan->nuses, 1);
    release(&f);
}

static void test_dispatch_errors_only_in_closure(void **state)
{
    struct fixture f;
    static const char text[] = "FROM alpine AS bad\n"
                               "RUN --mount=type=cache,target=/x,sharing=bogus,mode=99a true\n"
                               "FROM alpine AS good\n"
                               "RUN --mount=type=cache,target=/ok true\n";
    ok(&f, text, NULL, NULL, NULL);
    assert_int_equal(f.plan->nuses, 1);
    release(&f);
    fails(text, "bad", "Dockerfile:2: unsupported sharing value \"bogus\"");
    /* parse-time errors fail the build whatever the target */
    fails("FROM alpine AS a\nRUN --mount=type=cache,target=/x,from=$X true\nFROM alpine\n", NULL,
          "Dockerfile:2: 'from' doesn't support variable expansion");
    fails("FROM alpine AS a\nRUN --mout=type=cache true\nFROM alpine\n", NULL,
          "Dockerfile:2: unknown flag: --mout");
    fails("FROM alpine AS a\nRUN --mount type=cache true\nFROM alpine\n", NULL,
          "Dockerfile:2: missing a value on flag: --mount");
    fails("FROM alpine AS a\nCOPY --from=$X /a /b\nFROM alpine\n", NULL,
          "variable expansion is not supported for --from");
    fails("FROM alpine AS 1a\n", NULL, "invalid name for build stage");
    fails("FROM alpine\nFOO bar\n", NULL, "Dockerfile:2: unknown instruction: foo");
    fails("RUN true\nFROM alpine\n", NULL, "no build stage in current context");
    fails("FROM alpine\nRUN --mount=type=cache,target=${X:?required} true\n", NULL, "X: required");
    fails("FROM alpine\nCOPY ${SRC:?unset} /dst\n", NULL,
          "Dockerfile:2: failed to process \"${SRC:?unset}\": SRC: unset");
    fails("FROM alpine\nUSER ${}\n", NULL, "bad substitution");
    ok(&f, "FROM alpine AS x\nUSER ${}\nFROM alpine\n", NULL, NULL, NULL);
    release(&f);
    fails("FROM alpine\nRUN --mount=type=$T,target=/x true\n", NULL, "unsupported mount type \"\"");
    fails("FROM alpine\nRUN --mount=type=cache true\n", NULL, "invalid mount target");
}

static void test_target_rules(void **state)
{
    struct fixture f;
    fails(k_spec_example, "nope",
          "target stage \"nope\" could not be found (stages: base, unused, child)");
    ok(&f, k_spec_example, "BASE", NULL, NULL);
    assert_int_equal(f.plan->target, 0);
    release(&f);
    ok(&f, "FROM alpine AS a\nFROM alpine\n", NULL, NULL, NULL);
    assert_int_equal(f.plan->target, 1);
    assert_string_equal(f.plan->stages[1].label, "stage-1");
    release(&f);
}

static void test_args_and_platform(void **state)
{
    struct fixture f;
    static const char text[] =
        "ARG G=global\n"
        "ARG D=${TARGETARCH}-d\n"
        "FROM alpine\n"
        "ARG TARGETARCH TARGETVARIANT TARGETPLATFORM\n"
        "ARG G\n"
        "ARG D\n"
        "ARG L=${G}-local\n"
        "RUN --mount=type=cache,id=$TARGETPLATFORM/$TARGETVARIANT/$G/$D/$L/${NOPE},target=/c "
        "true\n";
    ok(&f, text, NULL, "linux/arm", NULL);
    assert_string_equal(f.plan->platform, "linux/arm/v7");
    assert_string_equal(f.plan->uses[0].id, "linux/arm/v7/v7/global/arm-d/global-local/");
    release(&f);

    static const char *const ba[] = {"G=cli", "L=lit$X", "NOPE=n", NULL};
    ok(&f, text, NULL, "linux/arm64", ba);
    /* --build-arg values are literal; an undeclared one is invisible */
    assert_string_equal(f.plan->uses[0].id, "linux/arm64//cli/arm64-d/lit$X/");
    release(&f);

    /* a global ARG is invisible until re-declared; ENV and ARG share one store */
    ok(&f,
       "ARG A=1\nFROM alpine\nRUN --mount=type=cache,id=a$A,target=/a true\n"
       "ENV A=env\nARG A\nRUN --mount=type=cache,id=b$A,target=/b true\n"
       "ARG A=arg\nRUN --mount=type=cache,id=c$A,target=/c true\n",
       NULL, NULL, NULL);
    assert_string_equal(f.plan->uses[0].id, "a");
    assert_string_equal(f.plan->uses[1].id, "b1");
    assert_string_equal(f.plan->uses[2].id, "carg");
    release(&f);

    /* ENV pairs expand with the environment from before the instruction */
    ok(&f,
       "FROM alpine\nENV A=x\nENV A=y B=$A\nRUN --mount=id=$B,target=/b true\n"
       "ARG T=cache\nRUN --mount=type=$T,id=$B,target=/b true\n",
       NULL, NULL, NULL);
    assert_int_equal(f.plan->nuses, 1); /* no type: bind; type from a variable */
    assert_string_equal(f.plan->uses[0].id, "x");
    release(&f);
}

static void test_workdir_and_parent_env(void **state)
{
    struct fixture f;
    ok(&f,
       "FROM alpine AS a\nWORKDIR /w\nWORKDIR sub/../x\nENV P=/p\n"
       "FROM a\nRUN --mount=type=cache,target=rel --mount=type=cache,target=$P/q/ true\n",
       NULL, NULL, NULL);
    assert_string_equal(f.plan->uses[0].target, "/w/x/rel");
    assert_string_equal(f.plan->uses[0].id, "rel");
    assert_string_equal(f.plan->uses[1].target, "/p/q/"); /* absolute: as written */
    assert_string_equal(f.plan->uses[1].id, "/p/q");
    release(&f);
}

static void test_identities(void **state)
{
    struct fixture f;
    ok(&f,
       "FROM alpine\n"
       "RUN --mount=type=cache,id=c,target=/a --mount=type=cache,id=c,target=/b,sharing=locked,ro\n"
       "RUN --mount=type=cache,id=c,target=/a,uid=0\n"
       "RUN --mount=type=cache,id=c,target=/a,uid=1000\n"
       "RUN --mount=type=cache,id=c,target=/a,uid=1000,source=sub\n"
       "RUN --mount=type=cache,id=/x/y,target=/a\n",
       NULL, NULL, NULL);
    assert_int_equal(f.plan->nuses, 6);
    assert_int_equal(f.plan->nidentities, 4);
    assert_int_equal(f.plan->uses[1].identity, 0); /* sharing/target/ro: same cache */
    assert_int_equal(f.plan->uses[2].identity, 1); /* uid=0 still adds a base */
    assert_int_equal(f.plan->uses[3].identity, 2);
    assert_int_equal(f.plan->uses[4].identity, 0); /* source: uid ignored */
    assert_string_equal(f.plan->identities[0].name, "c");
    assert_int_equal(strncmp(f.plan->identities[1].name, "c-", 2), 0);
    assert_int_equal(strlen(f.plan->identities[1].name), 10);
    assert_string_not_equal(f.plan->identities[1].name, f.plan->identities[2].name);
    assert_int_equal(strncmp(f.plan->identities[3].name, "x-y-", 4), 0);
    assert_ptr_equal(bk_buildplan_identity(f.plan, "c"), &f.plan->identities[0]);
    assert_null(bk_buildplan_identity(f.plan, "nope"));
    release(&f);
}

static void test_cycles_and_order(void **state)
{
    fails("FROM alpine AS a\nCOPY --from=b /x /y\nFROM alpine AS b\nCOPY --from=a /x /y\n", "a",
          "circular dependency detected");
    fails("FROM alpine AS a\nRUN --mount=type=bind,from=b,target=/x true\nFROM alpine AS b\n", "a",
          "stage needs to be defined before current command");
    fails("FROM alpine\nCOPY --from=7 /x /y\n", NULL, "invalid stage index 7");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_worked_example),
        cmocka_unit_test(test_namespace_only_from_build_arg),
        cmocka_unit_test(test_onbuild_direct_children_only),
        cmocka_unit_test(test_onbuild_from_pulls_stage),
        cmocka_unit_test(test_from_closure_and_numeric),
        cmocka_unit_test(test_from_stage_case_rule),
        cmocka_unit_test(test_dispatch_errors_only_in_closure),
        cmocka_unit_test(test_target_rules),
        cmocka_unit_test(test_args_and_platform),
        cmocka_unit_test(test_workdir_and_parent_env),
        cmocka_unit_test(test_identities),
        cmocka_unit_test(test_cycles_and_order),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
