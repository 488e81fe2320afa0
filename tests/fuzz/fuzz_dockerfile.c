/*
 * fuzz_dockerfile.c - libFuzzer target for the Dockerfile parser.
 *
 * Parses each input, dumps it, and checks the invariants every successful
 * parse must keep: at least one instruction, line ranges that are ordered
 * and do not overlap, a non-NULL keyword and argument lengths that match
 * the strings (unless a JSON \u0000 put a NUL inside). A failed parse must
 * leave a "FILE:LINE: message" error. Built and run by `make fuzz`
 * (mk/fuzz.mk) with ASan and UBSan.
 */
#include "core/dockerfile/dockerfile.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond))                                                                               \
            abort();                                                                               \
    } while (0)

static void check_node(const struct bk_df_node *n)
{
    CHECK(n->keyword && n->original && n->rest);
    for (size_t i = 0; i < n->nflags; i++)
        CHECK(n->flaglens[i] >= strlen(n->flags[i]) && n->flags[i][n->flaglens[i]] == '\0');
    for (size_t i = 0; i < n->nargs; i++)
        CHECK(n->arglens[i] >= strlen(n->args[i]) && n->args[i][n->arglens[i]] == '\0');
    for (size_t i = 0; i < n->nheredocs; i++)
        CHECK(n->heredocs[i].name && n->heredocs[i].name_len > 0 && n->heredocs[i].content &&
              n->heredocs[i].content[n->heredocs[i].content_len] == '\0');
    if (n->sub)
        check_node(n->sub);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct bk_dockerfile *df = NULL;
    struct bk_strbuf sb = BK_STRBUF_INIT;
    int prev_end = 0;
    int rc = bk_dockerfile_parse((const char *)data, size, "Dockerfile", &df);

    if (rc != BK_OK) {
        CHECK(rc == BK_EINVAL && df == NULL);
        CHECK(strncmp(bk_error_msg(), "Dockerfile:", 11) == 0);
        return 0;
    }
    CHECK(df->nnodes > 0);
    CHECK(df->escape == '\\' || df->escape == '`');
    for (size_t i = 0; i < df->nnodes; i++) {
        const struct bk_df_node *n = &df->nodes[i];
        CHECK(n->start_line > prev_end && n->end_line >= n->start_line);
        prev_end = n->end_line;
        check_node(n);
    }
    CHECK(df->start_line == df->nodes[0].start_line && df->end_line == prev_end);
    bk_dockerfile_dump(df, &sb);
    CHECK(sb.len > 0 && sb.buf[0] == '(' && sb.buf[sb.len - 1] == ')');
    bk_strbuf_release(&sb);
    bk_dockerfile_free(df);
    return 0;
}
