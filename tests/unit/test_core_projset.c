/*
 * test_core_projset.c - several builds at once (core/cli/projset.c) and
 * `bkcache build` around a build command (core/cli/cmd_build.c).
 *
 * The project-set cases write a small compose project into a temporary
 * directory and check what restore and save would move: an identity two
 * services mount is one cache with one key over both; a cache with one
 * build keeps that build's own key (the key `bkcache key -f` prints); two
 * identities under one name are told apart; a service whose Dockerfile is
 * missing is one error naming the file and the service, the others still
 * load; a spec with two platforms is two builds.
 *
 * The `bkcache build` cases run $BKCACHE (set by make test-unit; skipped
 * without it) in directory mode around a stand-in `docker` script: the
 * build's stdout reaches stdout unchanged, its exit status is bkcache's,
 * the caches are saved after success and, after a failure, only with
 * --save-on-failure. With --layers the stand-in receives the layer cache's
 * --cache-from/--cache-to right after `build` and writes an OCI layout
 * (tests/layers/make_oci_cache.py) into the --cache-to dest, as BuildKit
 * would: save uploads its blobs, and the next build imports them back; a
 * builder that cannot export (a stand-in Docker 20.10) gets no option and
 * one warning; compose, bake and two platforms with --layers are refused.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "core/cli/projset.h"
#include "core/util/error.h"
#include "core/util/fileio.h"
#include "core/util/strbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char *g_tmp;
static char g_cwd[4096];

static void put(const char *name, const char *text)
{
    char *p = bk_xasprintf("%s/%s", g_tmp, name), *slash = strrchr(p, '/');
    FILE *f;
    *slash = '\0';
    assert_int_equal(bk_mkdir_p(p), BK_OK);
    *slash = '/';
    f = fopen(p, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static int setup(void **state)
{
    char t[] = "/tmp/bkcache-projset-XXXXXX";
    (void)state;
    g_tmp = bk_xstrdup(mkdtemp(t));
    if (!getcwd(g_cwd, sizeof(g_cwd)) || chdir(g_tmp) != 0)
        return 1;
    setenv("BKCACHE_RESOLVER", "builtin", 1);
    return 0;
}

static int teardown(void **state)
{
    char *cmd = bk_xasprintf("rm -rf '%s'", g_tmp);
    int rc;
    (void)state;
    rc = chdir(g_cwd) != 0 || system(cmd) != 0;
    free(cmd);
    free(g_tmp);
    return rc;
}

static void init_opts(struct bk_options *o)
{
    memset(o, 0, sizeof(*o));
    o->file = "Dockerfile";
    o->build_args = o->key_files = o->key_extra = (struct bk_strvec)BK_STRVEC_INIT;
    o->compose = o->services = o->bake = o->bake_targets = (struct bk_strvec)BK_STRVEC_INIT;
    o->mounts = o->args = o->store_opts = (struct bk_strvec)BK_STRVEC_INIT;
}

static const struct bk_projset_cache *cache_named(const struct bk_projset *s, const char *name)
{
    for (size_t i = 0; i < s->ncaches; i++)
        if (strcmp(s->caches[i].identity.name, name) == 0)
            return &s->caches[i];
    return NULL;
}

static void test_shared_identity_once(void **state)
{
    struct bk_options o;
    struct bk_projset *s;
    struct bk_project *alone;
    const struct bk_projset_cache *gomod, *npm;
    char *j;

    (void)state;
    put("web/Dockerfile", "FROM busybox\n"
                          "RUN --mount=type=cache,id=gomod,target=/go/pkg/mod true\n"
                          "RUN --mount=type=cache,id=npm,target=/npm true\n");
    put("api/Dockerfile", "FROM busybox\nARG V\n"
                          "RUN --mount=type=cache,id=gomod,target=/go/pkg/mod echo $V\n");
    put("compose.yaml", "services:\n  web: {build: web}\n  api: {build: api}\n"
                        "  db: {image: postgres}\n");
    init_opts(&o);
    bk_strvec_push(&o.compose, "compose.yaml");
    assert_int_equal(bk_projset_load(&o, NULL, BK_PROJECT_KEYS, &s), BK_OK);
    assert_int_equal(s->errors.n, 0);
    assert_int_equal(s->nbuilds, 2);
    assert_int_equal(s->ncaches, 2);
    gomod = cache_named(s, "gomod");
    npm = cache_named(s, "npm");
    assert_non_null(gomod);
    assert_non_null(npm);
    j = bk_strvec_join(&gomod->builds, ",");
    assert_string_equal(j, "api,web");
    free(j);
    /* two builds with different Dockerfiles: one key over both */
    assert_int_equal(gomod->member_keys.n, 2);
    assert_string_not_equal(gomod->key, gomod->member_keys.v[0]);
    assert_string_not_equal(gomod->key, gomod->member_keys.v[1]);
    assert_int_equal(strncmp(gomod->key, "bkcache-gomod-linux-amd64-", 26), 0);
    assert_int_equal(strlen(gomod->key), 26 + 32);
    /* as keys.c makes them: the key itself first (the newest run of it), then prefixes */
    assert_int_equal(gomod->restore_keys.n, 3);
    assert_string_equal(gomod->restore_keys.v[0], gomod->key);
    assert_int_equal(strlen(gomod->restore_keys.v[1]), 26 + 16);
    assert_int_equal(strncmp(gomod->key, gomod->restore_keys.v[1], 26 + 16), 0);
    assert_string_equal(gomod->restore_keys.v[2], "bkcache-gomod-linux-amd64-");
    assert_non_null(s->run);
    j = bk_xasprintf("%s-%s", gomod->key, s->run->text);
    assert_string_equal(gomod->save_key, j);
    free(j);

    /* one build: its own key, as `bkcache key -f web/Dockerfile` prints it */
    o.file = "web/Dockerfile";
    o.context = "web";
    assert_int_equal(bk_project_load(&o, BK_PROJECT_KEYS, &alone), BK_OK);
    assert_string_equal(npm->key, alone->keys->keys[1].key);
    assert_string_equal(npm->restore_keys.v[1], alone->keys->keys[1].restore_keys.v[1]);
    bk_project_free(alone);
    bk_projset_free(s);

    /* only --service web: gomod is then web's alone */
    bk_strvec_push(&o.services, "web");
    assert_int_equal(bk_projset_load(&o, NULL, BK_PROJECT_KEYS, &s), BK_OK);
    assert_int_equal(s->nbuilds, 1);
    assert_int_equal(cache_named(s, "gomod")->member_keys.n, 1);
    bk_projset_free(s);
    bk_options_release(&o);
}

static void test_same_name_other_identity(void **state)
{
    struct bk_options o;
    struct bk_projset *s;

    (void)state;
    put("a/Dockerfile", "FROM busybox\nRUN --mount=type=cache,id=x,target=/x true\n");
    put("compose.yaml", "services:\n"
                        "  one: {build: {context: a, args: {BUILDKIT_CACHE_MOUNT_NS: one}}}\n"
                        "  two: {build: {context: a, args: {BUILDKIT_CACHE_MOUNT_NS: two}}}\n");
    init_opts(&o);
    bk_strvec_push(&o.compose, "compose.yaml");
    assert_int_equal(bk_projset_load(&o, NULL, BK_PROJECT_KEYS, &s), BK_OK);
    assert_int_equal(s->ncaches, 2);
    assert_string_equal(s->caches[0].identity.name, "x");
    assert_string_equal(s->caches[0].identity.cache_id, "one/x");
    assert_string_equal(s->caches[1].identity.name, "x-two");
    assert_string_equal(s->caches[1].identity.cache_id, "two/x");
    assert_int_equal(strncmp(s->caches[1].key, "bkcache-x-two-linux-amd64-", 26), 0);
    assert_string_equal(s->caches[1].restore_keys.v[2], "bkcache-x-two-linux-amd64-");
    assert_int_equal(strncmp(s->caches[1].save_key, s->caches[1].key, strlen(s->caches[1].key)), 0);
    bk_projset_free(s);
    bk_options_release(&o);
}

static void test_bad_service_others_load(void **state)
{
    struct bk_options o;
    struct bk_projset *s;

    (void)state;
    put("ok/Dockerfile", "FROM busybox\nRUN --mount=type=cache,id=c,target=/c true\n");
    put("bad/Dockerfile", "FROM busybox\nRUN --mount=type=cache,sharing=bogus,target=/c true\n");
    put("compose.yaml", "services:\n  ok: {build: ok}\n  gone: {build: nowhere}\n"
                        "  bad: {build: bad}\n");
    init_opts(&o);
    bk_strvec_push(&o.compose, "compose.yaml");
    assert_int_equal(bk_projset_load(&o, NULL, BK_PROJECT_KEYS, &s), BK_OK);
    assert_int_equal(s->errors.n, 2);
    assert_non_null(strstr(s->errors.v[0], "compose.yaml: service bad: bad/Dockerfile:2:"));
    assert_non_null(strstr(s->errors.v[1], "compose.yaml: service gone: nowhere/Dockerfile"));
    assert_int_equal(s->ncaches, 1);
    assert_string_equal(s->caches[0].identity.name, "c");
    bk_projset_free(s);

    /* a compose file that is not YAML: nothing can be read */
    put("compose.yaml", "services: [\n");
    assert_int_equal(bk_projset_load(&o, NULL, BK_PROJECT_KEYS, &s), BK_EINVAL);
    assert_non_null(strstr(bk_error_msg(), "compose.yaml:"));
    bk_options_release(&o);
}

static void test_platforms_are_builds(void **state)
{
    struct bk_options o;
    struct bk_projset *s;
    char *j;

    (void)state;
    put("m/Dockerfile", "FROM busybox\nRUN --mount=type=cache,id=c,target=/c true\n");
    put("docker-bake.json", "{\"target\": {\"default\": {\"context\": \"m\", "
                            "\"platforms\": [\"linux/amd64\", \"linux/arm64\"]}}}\n");
    init_opts(&o);
    bk_strvec_push(&o.bake, "docker-bake.json");
    assert_int_equal(bk_projset_load(&o, NULL, BK_PROJECT_KEYS, &s), BK_OK);
    assert_int_equal(s->nbuilds, 2);
    assert_string_equal(s->builds[1].label, "default linux/arm64");
    assert_int_equal(s->ncaches, 1);
    j = bk_strvec_join(&s->caches[0].builds, ",");
    assert_string_equal(j, "default linux/amd64,default linux/arm64");
    free(j);
    bk_projset_free(s);
    bk_options_release(&o);
}

/* ---- bkcache build ---- */

static int run(const char *cmd, char **out)
{
    char *full = bk_xasprintf("%s >out.txt 2>err.txt", cmd);
    struct bk_strbuf sb = BK_STRBUF_INIT;
    int st = system(full);
    free(full);
    bk_strbuf_read_file(&sb, "out.txt");
    *out = bk_strbuf_detach(&sb);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void test_build_command(void **state)
{
    const char *bk = getenv("BKCACHE");
    char *cmd, *out;

    (void)state;
    if (!bk) {
        printf("skip: $BKCACHE is not set\n");
        skip();
    }
    put("bin/docker", "#!/bin/sh\necho \"build says: $*\"\nexit ${FAKE_STATUS:-0}\n");
    chmod("bin/docker", 0755);
    put("ctx/Dockerfile", "FROM busybox\nRUN --mount=type=cache,id=objs,target=/o true\n");
    put("caches/objs/file", "contents\n");
    setenv("BKCACHE_DIR", "store", 1);

    /* a failed build: its status, and nothing saved */
    cmd = bk_xasprintf("FAKE_STATUS=7 '%s' build --dir caches --state st.json -- bin/docker "
                       "build --target x --build-arg A=1 ctx",
                       bk);
    assert_int_equal(run(cmd, &out), 7);
    assert_string_equal(out, "build says: build --target x --build-arg A=1 ctx\n");
    free(out);
    free(cmd);
    /* the target does not exist: the cache read failed, the build ran */
    put("ctx/Dockerfile", "FROM busybox AS x\nRUN --mount=type=cache,id=objs,target=/o true\n");
    assert_int_equal(run("FAKE_STATUS=7 \"$BKCACHE\" build --dir caches --state st.json -- "
                         "bin/docker build --target x ctx",
                         &out),
                     7);
    free(out);
    assert_int_equal(system("grep -q 'caches not saved' err.txt"), 0);
    assert_int_not_equal(system("grep -q 'objs: saved' err.txt"), 0);

    /* --save-on-failure saves after the failure too */
    assert_int_equal(run("FAKE_STATUS=7 \"$BKCACHE\" build --save-on-failure --dir caches "
                         "--state st.json -- bin/docker build --target x ctx",
                         &out),
                     7);
    free(out);
    assert_int_equal(system("grep -q 'objs: saved' err.txt"), 0);

    /* a successful build: exit 0, the caches restored before and saved after */
    assert_int_equal(system("echo more > caches/objs/file2"), 0);
    assert_int_equal(run("\"$BKCACHE\" build --dir caches --state st.json -- bin/docker build "
                         "--target x ctx",
                         &out),
                     0);
    assert_string_equal(out, "build says: build --target x ctx\n");
    free(out);
    assert_int_equal(system("grep -q 'objs: skipped' err.txt"), 0);
    assert_int_equal(system("grep -q 'objs: saved' err.txt"), 0);

    /* not a build command: bad input, nothing runs */
    assert_int_equal(run("\"$BKCACHE\" build --dir caches -- make image", &out), 2);
    free(out);
    assert_int_equal(system("grep -q \"'make' is not a build command\" err.txt"), 0);
    unsetenv("BKCACHE_DIR");
}

/* The stand-in build for --layers: prints its arguments, writes the layer
 * cache (N layers, TAG) into the dest its --cache-to names, and says
 * whether the src its --cache-from names holds an index. */
static const char fake_layers_docker[] =
    "#!/bin/sh\n"
    "echo \"build says: $*\"\n"
    "for a in \"$@\"; do case $a in\n"
    "  --cache-to=type=local,dest=*) d=${a#--cache-to=type=local,dest=}; d=${d%%,*};\n"
    "     python3 \"$MAKE_OCI\" \"$d\" 5 \"${FAKE_TAG:-v1}\" ;;\n"
    "  --cache-from=type=local,src=*) s=${a#--cache-from=type=local,src=};\n"
    "     test -f \"$s/index.json\" && echo \"imported $(ls \"$s/blobs/sha256\" | wc -l) blobs\" "
    ";;\n"
    "esac; done\n";

static void test_build_layers(void **state)
{
    const char *bk = getenv("BKCACHE");
    char *make_oci = bk_xasprintf("%s/tests/layers/make_oci_cache.py", g_cwd), *out;
    char *want;

    (void)state;
    if (!bk) {
        printf("skip: $BKCACHE is not set\n");
        free(make_oci);
        skip();
    }
    setenv("MAKE_OCI", make_oci, 1);
    put("bin/docker", fake_layers_docker);
    chmod("bin/docker", 0755);
    put("ctx/Dockerfile", "FROM busybox AS app\nRUN --mount=type=cache,id=objs,target=/o true\n");
    put("caches/objs/file", "contents\n");
    setenv("BKCACHE_DIR", "store", 1);

    /* job 1: nothing stored; the options go right after `build`, the
     * user's own follow unchanged, and save uploads the 7 exported blobs */
    assert_int_equal(run("\"$BKCACHE\" build --layers --dir caches --state st.json -- "
                         "bin/docker buildx build --target app -t img ctx",
                         &out),
                     0);
    want = bk_xasprintf("build says: buildx build --cache-to=type=local,dest=%s/st-layers/to,"
                        "mode=max --target app -t img ctx\n",
                        g_tmp);
    assert_string_equal(out, want);
    free(want);
    free(out);
    assert_int_equal(system("grep -q 'objs: saved' err.txt"), 0);
    assert_int_equal(system("grep -q 'layers: saved' err.txt"), 0);
    /* build adds the arguments itself: no line for the user to copy */
    assert_int_equal(system("! grep -q '^build-args:' err.txt"), 0);
    /* ... beside the cache mount's own layer blob (delta saves) */
    assert_int_equal(system("test $(ls store/blobs/sha256 | wc -l) = 8"), 0);

    /* job 2, a fresh runner: restore imports the 7 blobs, the build reads
     * them from --cache-from and exports a changed cache: 3 new blobs */
    assert_int_equal(system("rm -rf st-layers st.json"), 0);
    assert_int_equal(run("FAKE_TAG=v2 \"$BKCACHE\" build --layers --dir caches --state st.json "
                         "-- bin/docker buildx build --target app ctx",
                         &out),
                     0);
    want =
        bk_xasprintf("build says: buildx build --cache-from=type=local,src=%s/st-layers/from/app "
                     "--cache-to=type=local,dest=%s/st-layers/to,mode=max --target app ctx\n"
                     "imported 7 blobs\n",
                     g_tmp, g_tmp);
    assert_string_equal(out, want);
    free(want);
    free(out);
    assert_int_equal(system("grep -q 'layers: saved' err.txt"), 0);
    assert_int_equal(system("grep -q '3 blobs uploaded' err.txt"), 0);
    /* the mount's tree is the same: its blob is not stored again */
    assert_int_equal(system("test $(ls store/blobs/sha256 | wc -l) = 11"), 0);

    /* buildctl spells them --import-cache/--export-cache */
    put("bin/buildctl", "#!/bin/sh\necho \"buildctl says: $*\"\n");
    chmod("bin/buildctl", 0755);
    assert_int_equal(run("\"$BKCACHE\" build --layers --dir caches --state st.json -- "
                         "bin/buildctl build --local context=ctx --opt target=app",
                         &out),
                     0);
    want = bk_xasprintf("buildctl says: build --import-cache=type=local,src=%s/st-layers/from/app "
                        "--export-cache=type=local,dest=%s/st-layers/to,mode=max "
                        "--local context=ctx --opt target=app\n",
                        g_tmp, g_tmp);
    assert_string_equal(out, want);
    free(want);
    free(out);
    /* it exported nothing: save says so, the build's status stands */
    assert_int_equal(system("grep -q 'layers: skipped' err.txt"), 0);

    /* a builder that cannot export (the daemon's docker build of Docker 20.10,
     * asked through the command's own client): restore's one-line
     * explanation, once; no option in the command, its status stands */
    put("old/docker", "#!/bin/sh\ncase $1 in\n"
                      "version) echo 20.10.24 ;;\n"
                      "info) echo '[[\"Backing Filesystem\",\"extfs\"]]' ;;\n"
                      "build) [ \"$2\" = --target ] && echo \"build says: $*\" ;;\n"
                      "*) exit 1 ;;\nesac\n");
    chmod("old/docker", 0755);
    assert_int_equal(run("\"$BKCACHE\" build --layers --state st3.json -- old/docker build "
                         "--target app ctx",
                         &out),
                     0);
    assert_string_equal(out, "build says: build --target app ctx\n");
    free(out);
    assert_int_equal(
        system("test $(grep -c '^warning: the layer cache needs --cache-to' err.txt) = 1"), 0);

    /* a context bkcache cannot read: one warning, the build runs without the options */
    assert_int_equal(run("\"$BKCACHE\" build --layers --dir caches --state st.json -- "
                         "bin/docker build https://example.invalid/r.git",
                         &out),
                     0);
    assert_string_equal(out, "build says: build https://example.invalid/r.git\n");
    free(out);
    assert_int_equal(system("grep -q 'its layer cache is not restored or saved' err.txt"), 0);

    /* a compose or bake command, or two platforms: refused before anything runs */
    assert_int_equal(
        run("\"$BKCACHE\" build --layers --dir caches -- bin/docker compose build", &out), 2);
    assert_string_equal(out, "");
    free(out);
    assert_int_equal(system("grep -q 'not with a compose or bake command' err.txt"), 0);
    assert_int_equal(run("\"$BKCACHE\" build --layers --dir caches -- bin/docker buildx build "
                         "--platform linux/amd64,linux/arm64 ctx",
                         &out),
                     2);
    assert_string_equal(out, "");
    free(out);
    unsetenv("BKCACHE_DIR");
    unsetenv("MAKE_OCI");
    free(make_oci);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_shared_identity_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_name_other_identity, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_service_others_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_platforms_are_builds, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_command, setup, teardown),
        cmocka_unit_test_setup_teardown(test_build_layers, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
