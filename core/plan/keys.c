/*
 * keys.c - cache keys from a build plan; see keys.h and docs/keys.md.
 *
 * Serialization, schema v1: one record per line, every variable string
 * written as <decimal length>:<bytes> so no content can fake a separator.
 *
 *   bkcache-key v1
 *   identity <descriptor>
 *   platform <platform>
 *   stage-sha256 <hex>                        (per needed stage, in file order:
 *                                              SHA-256 of the stage's block)
 *   end-dockerfile
 *   keyglob <pattern> / keyfile <path> <sha256> / extra <string>
 *   end-inputs
 *
 * A stage's block (hashed once, shared by every identity that needs it):
 *
 *   stage <label> <expanded FROM operand>
 *   node <keyword> <json 0|1>                 (each instruction after FROM)
 *   flag <word> / arg <word> / heredoc <name> <expand> <chomp> <content>
 *   trigger                                   (ONBUILD: the nested node follows)
 *   argval <name> <value>                     (what an ARG without default, or
 *                                              with a --build-arg, resolves to)
 *
 * keyfile paths are relative to the base dir; their hash is of the contents.
 * Comments, blank lines, continuations and other formatting never reach
 * the parsed nodes, so they cannot change a key.
 */
#include "core/plan/keys.h"

#include "core/util/error.h"
#include "core/util/log.h"
#include "core/util/sha256.h"
#include "core/util/strbuf.h"

#include <ctype.h>
#include <errno.h>
#include <glob.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define BK_KEY_SCHEMA "bkcache-key v1"
#define BK_KEY_PREFIX_MAX 128

static int sha256_file(const char *path, char hex[65])
{
    unsigned char buf[65536], md[32];
    unsigned int n = 0;
    EVP_MD_CTX *ctx;
    FILE *f = fopen(path, "rb");
    size_t got;

    if (!f)
        return bk_error_set(BK_ERR, "--key-file %s: %s", path, strerror(errno));
    ctx = EVP_MD_CTX_new();
    if (!ctx)
        abort();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    while ((got = fread(buf, 1, sizeof(buf), f)) > 0)
        EVP_DigestUpdate(ctx, buf, got);
    EVP_DigestFinal_ex(ctx, md, &n);
    EVP_MD_CTX_free(ctx);
    if (ferror(f)) {
        fclose(f);
        return bk_error_set(BK_ERR, "--key-file %s: read error", path);
    }
    fclose(f);
    bk_hex32(md, hex);
    return BK_OK;
}

static int key_char_ok(char c)
{
    return isalnum((unsigned char)c) || c == '.' || c == '_' || c == '-';
}

int bk_key_validate(const char *key)
{
    size_t len = strlen(key);
    if (len == 0)
        return bk_error_set(BK_EINVAL, "empty cache key");
    if (len > BK_KEY_MAX)
        return bk_error_set(BK_EINVAL, "cache key '%.40s...' is %zu characters long (at most %d)",
                            key, len, BK_KEY_MAX);
    for (const char *p = key; *p; p++)
        if (!key_char_ok(*p))
            return bk_error_set(
                BK_EINVAL, "cache key '%s' has '%c'; only A-Z a-z 0-9 . _ - are allowed", key, *p);
    return BK_OK;
}

int bk_key_same_cache(const char *key, const char *stored)
{
    size_t n = strlen(key);
    return strncmp(stored, key, n) == 0 && (stored[n] == '\0' || stored[n] == '-');
}

int bk_key_prefix_validate(const char *prefix)
{
    size_t len = strlen(prefix);
    if (len == 0 || len > BK_KEY_PREFIX_MAX)
        return bk_error_set(BK_EINVAL, "--key-prefix: must be 1 to %d characters, got '%s'",
                            BK_KEY_PREFIX_MAX, prefix);
    for (const char *p = prefix; *p; p++)
        if (!key_char_ok(*p))
            return bk_error_set(BK_EINVAL,
                                "--key-prefix: '%s' has '%c'; only A-Z a-z 0-9 . _ - are allowed",
                                prefix, *p);
    return BK_OK;
}

/* ---- serialization ----------------------------------------------------- */

static void put(struct bk_strbuf *sb, const char *s)
{
    char num[24];
    size_t len = strlen(s), i = sizeof(num);

    num[--i] = ':';
    do {
        num[--i] = (char)('0' + len % 10);
        len /= 10;
    } while (len);
    num[--i] = ' ';
    bk_strbuf_add(sb, num + i, sizeof(num) - i);
    bk_strbuf_adds(sb, s);
}

static void put_node(struct bk_strbuf *sb, const struct bk_df_node *n)
{
    bk_strbuf_adds(sb, "node");
    put(sb, n->keyword);
    bk_strbuf_addf(sb, " %d\n", n->json ? 1 : 0);
    for (size_t i = 0; i < n->nflags; i++) {
        bk_strbuf_adds(sb, "flag");
        put(sb, n->flags[i]);
        bk_strbuf_addch(sb, '\n');
    }
    for (size_t i = 0; i < n->nargs; i++) {
        bk_strbuf_adds(sb, "arg");
        put(sb, n->args[i]);
        bk_strbuf_addch(sb, '\n');
    }
    for (size_t i = 0; i < n->nheredocs; i++) {
        const struct bk_df_heredoc *h = &n->heredocs[i];
        bk_strbuf_adds(sb, "heredoc");
        put(sb, h->name);
        bk_strbuf_addf(sb, " %d %d %d", h->expand, h->chomp, h->fd);
        put(sb, h->content ? h->content : "");
        bk_strbuf_addch(sb, '\n');
    }
    if (n->sub) {
        bk_strbuf_adds(sb, "trigger\n");
        put_node(sb, n->sub);
    }
}

/* The ARG values a node's ARG words resolve to from outside the stage. */
static void put_argvals(struct bk_strbuf *sb, const struct bk_buildplan *plan,
                        const struct bk_df_node *n)
{
    for (size_t i = 0; i < n->nargs; i++) {
        const char *eq = strchr(n->args[i], '=');
        char *key =
            eq ? bk_xstrndup(n->args[i], (size_t)(eq - n->args[i])) : bk_xstrdup(n->args[i]);
        const char *v = bk_vars_get(&plan->build_args, key);
        if (!v && !eq)
            v = bk_vars_get(&plan->globals, key);
        if (v) {
            bk_strbuf_adds(sb, "argval");
            put(sb, key);
            put(sb, v);
            bk_strbuf_addch(sb, '\n');
        }
        free(key);
    }
}

static void mark_deps(const struct bk_buildplan *plan, int s, unsigned char *set)
{
    if (set[s])
        return;
    set[s] = 1;
    for (size_t d = 0; d < plan->stages[s].ndeps; d++)
        mark_deps(plan, plan->stages[s].deps[d], set);
}

/* The stages identity `idx` needs: those that use it and their deps. */
static unsigned char *identity_stages(const struct bk_buildplan *plan, size_t idx)
{
    unsigned char *set = bk_xcalloc(plan->nstages ? plan->nstages : 1, 1);
    for (size_t u = 0; u < plan->nuses; u++)
        if (plan->uses[u].identity == idx)
            mark_deps(plan, plan->uses[u].stage, set);
    return set;
}

static void serialize_header(const struct bk_buildplan *plan, size_t idx, struct bk_strbuf *sb)
{
    bk_strbuf_adds(sb, BK_KEY_SCHEMA "\nidentity");
    put(sb, plan->identities[idx].descriptor);
    bk_strbuf_adds(sb, "\nplatform");
    put(sb, plan->platform);
    bk_strbuf_addch(sb, '\n');
}

static void serialize_stage(const struct bk_buildplan *plan, size_t s, struct bk_strbuf *sb)
{
    const struct bk_stage *st = &plan->stages[s];

    bk_strbuf_adds(sb, "stage");
    put(sb, st->label);
    put(sb, st->base);
    bk_strbuf_addch(sb, '\n');
    for (size_t ni = st->first_node + 1; ni < st->end_node; ni++) {
        const struct bk_df_node *n = &plan->df->nodes[ni];
        put_node(sb, n);
        if (strcmp(n->keyword, "arg") == 0)
            put_argvals(sb, plan, n);
    }
}

/* The SHA-256 of stage s's serialization, computed once per keyset. */
static const char *stage_digest(const struct bk_buildplan *plan, size_t s, char (*cache)[65])
{
    if (!cache[s][0]) {
        struct bk_strbuf blob = BK_STRBUF_INIT;
        serialize_stage(plan, s, &blob);
        bk_sha256_hex(blob.buf, blob.len, cache[s]);
        bk_strbuf_release(&blob);
    }
    return cache[s];
}

static void serialize_dockerfile(const struct bk_buildplan *plan, size_t idx, struct bk_strbuf *sb,
                                 char (*cache)[65])
{
    unsigned char *set = identity_stages(plan, idx);

    serialize_header(plan, idx, sb);
    for (size_t s = 0; s < plan->nstages; s++) {
        if (!set[s])
            continue;
        bk_strbuf_adds(sb, "stage-sha256 ");
        bk_strbuf_adds(sb, stage_digest(plan, s, cache));
        bk_strbuf_addch(sb, '\n');
    }
    bk_strbuf_adds(sb, "end-dockerfile\n");
    free(set);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int serialize_inputs(const struct bk_key_opts *opts, struct bk_strbuf *sb)
{
    struct bk_strvec files = BK_STRVEC_INIT;
    const char *base = opts->base_dir && *opts->base_dir ? opts->base_dir : ".";
    int rc = BK_OK;

    for (size_t g = 0; opts->key_files && g < opts->key_files->n; g++) {
        const char *pat = opts->key_files->v[g];
        char *full = pat[0] == '/' ? bk_xstrdup(pat) : bk_xasprintf("%s/%s", base, pat);
        size_t skip = pat[0] == '/' ? 0 : strlen(base) + 1;
        glob_t gl;
        size_t found = 0;

        bk_strbuf_adds(sb, "keyglob");
        put(sb, pat);
        bk_strbuf_addch(sb, '\n');
        if (glob(full, 0, NULL, &gl) == 0) {
            for (size_t i = 0; i < gl.gl_pathc; i++) {
                struct stat stt;
                if (stat(gl.gl_pathv[i], &stt) != 0 || !S_ISREG(stt.st_mode))
                    continue;
                found++;
                if (bk_strvec_find(&files, gl.gl_pathv[i] + skip) < 0)
                    bk_strvec_push(&files, gl.gl_pathv[i] + skip);
            }
            globfree(&gl);
        }
        if (!found)
            bk_warn("bkcache: warning: --key-file %s matched no files", pat);
        free(full);
    }
    qsort(files.v, files.n, sizeof(char *), cmp_str);
    for (size_t i = 0; i < files.n && rc == BK_OK; i++) {
        char hex[65];
        char *path =
            files.v[i][0] == '/' ? bk_xstrdup(files.v[i]) : bk_xasprintf("%s/%s", base, files.v[i]);
        rc = sha256_file(path, hex);
        free(path);
        if (rc)
            break;
        bk_strbuf_adds(sb, "keyfile");
        put(sb, files.v[i]);
        put(sb, hex);
        bk_strbuf_addch(sb, '\n');
    }
    for (size_t i = 0; opts->key_extra && i < opts->key_extra->n; i++) {
        bk_strbuf_adds(sb, "extra");
        put(sb, opts->key_extra->v[i]);
        bk_strbuf_addch(sb, '\n');
    }
    bk_strbuf_adds(sb, "end-inputs\n");
    bk_strvec_clear(&files);
    return rc;
}

int bk_keys_serialize(const struct bk_buildplan *plan, size_t i, const struct bk_key_opts *opts,
                      struct bk_strbuf *out)
{
    char(*cache)[65] = bk_xcalloc(plan->nstages ? plan->nstages : 1, 65);
    serialize_dockerfile(plan, i, out, cache);
    free(cache);
    return serialize_inputs(opts, out);
}

/* ---- keys -------------------------------------------------------------- */

/* key, save_key and restore keys from the key's start ("<prefix>-<name>-<slug>-")
 * and the two hashes; see keys.h. */
static int fill_key(struct bk_cache_key *k, const char *start, const char *df_hex,
                    const char *all_hex, const char *run_part)
{
    int rc;

    k->restore_keys = (struct bk_strvec)BK_STRVEC_INIT;
    k->key = bk_xasprintf("%s%.16s%.16s", start, df_hex, all_hex);
    if (run_part) { /* runs of this very key come first */
        k->save_key = bk_xasprintf("%s-%s", k->key, run_part);
        bk_strvec_push(&k->restore_keys, k->key);
    } else {
        k->save_key = bk_xstrdup(k->key);
    }
    bk_strvec_pushf(&k->restore_keys, "%s%.16s", start, df_hex);
    bk_strvec_push(&k->restore_keys, start);
    rc = bk_key_validate(k->key);
    return rc ? rc : bk_key_validate(k->save_key);
}

int bk_keys_compute(const struct bk_buildplan *plan, const struct bk_key_opts *opts,
                    struct bk_keyset **out)
{
    const char *prefix = opts->prefix ? opts->prefix : "bkcache";
    struct bk_strbuf inputs = BK_STRBUF_INIT, slug = BK_STRBUF_INIT;
    char(*cache)[65];
    struct bk_keyset *ks;
    int rc;

    *out = NULL;
    if ((rc = bk_key_prefix_validate(prefix)))
        return rc;
    /* key files and extras are the same for every identity: read them once */
    if ((rc = serialize_inputs(opts, &inputs))) {
        bk_strbuf_release(&inputs);
        return rc;
    }
    for (const char *p = plan->platform; *p; p++)
        bk_strbuf_addch(&slug, key_char_ok(*p) ? *p : '-');

    cache = bk_xcalloc(plan->nstages ? plan->nstages : 1, 65);
    ks = bk_xcalloc(1, sizeof(*ks));
    ks->keys = bk_xcalloc(plan->nidentities ? plan->nidentities : 1, sizeof(*ks->keys));
    ks->n = plan->nidentities;
    for (size_t i = 0; i < plan->nidentities && rc == BK_OK; i++) {
        struct bk_cache_key *k = &ks->keys[i];
        struct bk_strbuf sb = BK_STRBUF_INIT;
        char df_hex[65], all_hex[65];
        char *start;

        serialize_dockerfile(plan, i, &sb, cache);
        bk_sha256_hex(sb.buf, sb.len, df_hex);
        bk_strbuf_add(&sb, inputs.buf, inputs.len);
        bk_sha256_hex(sb.buf, sb.len, all_hex);
        bk_strbuf_release(&sb);

        k->identity = &plan->identities[i];
        start = bk_xasprintf("%s-%s-%s-", prefix, plan->identities[i].name, slug.buf);
        rc = fill_key(k, start, df_hex, all_hex, opts->run_part);
        free(start);
    }
    free(cache);
    bk_strbuf_release(&inputs);
    bk_strbuf_release(&slug);
    if (rc) {
        bk_keyset_free(ks);
        return rc;
    }
    *out = ks;
    return BK_OK;
}

/* ---- the layer cache --------------------------------------------------- */

#define BK_LAYERS_SCHEMA "bkcache-layers v1"

static void add_key_chars(struct bk_strbuf *sb, const char *s)
{
    for (const char *p = s; *p; p++)
        bk_strbuf_addch(sb, key_char_ok(*p) ? *p : '-');
}

char *bk_keys_layers_prefix(const struct bk_buildplan *plan, const struct bk_key_opts *opts,
                            const char *target)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;

    bk_strbuf_addf(&sb, "%s-.layers-", opts->prefix ? opts->prefix : "bkcache");
    add_key_chars(&sb, target);
    bk_strbuf_addch(&sb, '-');
    add_key_chars(&sb, plan->platform);
    bk_strbuf_addch(&sb, '-');
    return bk_strbuf_detach(&sb);
}

int bk_keys_layers(const struct bk_buildplan *plan, const struct bk_key_opts *opts,
                   struct bk_cache_key *out)
{
    const char *prefix = opts->prefix ? opts->prefix : "bkcache";
    const char *target = plan->stages[plan->target].label;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    unsigned char *set = bk_xcalloc(plan->nstages ? plan->nstages : 1, 1);
    char(*cache)[65] = bk_xcalloc(plan->nstages ? plan->nstages : 1, 65);
    char df_hex[65], all_hex[65];
    char *start;
    int rc;

    memset(out, 0, sizeof(*out));
    if ((rc = bk_key_prefix_validate(prefix)))
        goto done;
    mark_deps(plan, plan->target, set);
    bk_strbuf_adds(&sb, BK_LAYERS_SCHEMA "\ntarget");
    put(&sb, target);
    bk_strbuf_adds(&sb, "\nplatform");
    put(&sb, plan->platform);
    bk_strbuf_addch(&sb, '\n');
    for (size_t st = 0; st < plan->nstages; st++) {
        if (!set[st])
            continue;
        bk_strbuf_adds(&sb, "stage-sha256 ");
        bk_strbuf_adds(&sb, stage_digest(plan, st, cache));
        bk_strbuf_addch(&sb, '\n');
    }
    bk_strbuf_adds(&sb, "end-dockerfile\n");
    bk_sha256_hex(sb.buf, sb.len, df_hex);
    if ((rc = serialize_inputs(opts, &sb)))
        goto done;
    bk_sha256_hex(sb.buf, sb.len, all_hex);

    start = bk_keys_layers_prefix(plan, opts, target);
    rc = fill_key(out, start, df_hex, all_hex, opts->run_part);
    free(start);
    if (rc)
        bk_cache_key_release(out);
done:
    bk_strbuf_release(&sb);
    free(set);
    free(cache);
    return rc;
}

void bk_cache_key_release(struct bk_cache_key *k)
{
    free(k->key);
    free(k->save_key);
    bk_strvec_clear(&k->restore_keys);
    memset(k, 0, sizeof(*k));
}

void bk_keyset_free(struct bk_keyset *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n; i++) {
        free(ks->keys[i].key);
        free(ks->keys[i].save_key);
        bk_strvec_clear(&ks->keys[i].restore_keys);
    }
    free(ks->keys);
    free(ks);
}
