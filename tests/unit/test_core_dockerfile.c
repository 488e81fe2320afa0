/*
 * test_core_dockerfile.c - the Dockerfile parser on our own inputs.
 *
 * One test per feature of BuildKit's low-level parser (see dockerfile.h and
 * ../shared/specs/dockerfile-cache-mounts.md section 1): byte-order mark,
 * CRLF, directives, escape character, continuations, heredocs, flags, JSON
 * and argument forms, ONBUILD, the 64 KiB line limit and line numbers. Most
 * checks compare BuildKit's AST dump, which shows keyword, flags and
 * arguments at once; heredocs and line numbers are checked on the nodes.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include "core/dockerfile/dockerfile.h"
#include "core/util/error.h"
#include "core/util/strbuf.h"

#include <stdlib.h>
#include <string.h>

static struct bk_dockerfile *parse_ok(const char *src, size_t len)
{
    struct bk_dockerfile *df = NULL;
    int rc = bk_dockerfile_parse(src, len, "Dockerfile", &df);
    if (rc != BK_OK)
        fail_msg("parse failed: %s\n--- input:\n%s", bk_error_msg(), src);
    return df;
}

#define PARSE(src) parse_ok((src), strlen(src))

static void expect_dump_n(const char *src, size_t len, const char *want)
{
    struct bk_dockerfile *df = parse_ok(src, len);
    struct bk_strbuf sb = BK_STRBUF_INIT;

    bk_dockerfile_dump(df, &sb);
    if (strcmp(sb.buf, want) != 0)
        fail_msg("dump mismatch\n--- want:\n%s\n--- got:\n%s", want, sb.buf);
    bk_strbuf_release(&sb);
    bk_dockerfile_free(df);
}

#define expect_dump(src, want) expect_dump_n((src), strlen(src), (want))

static void expect_error_n(const char *src, size_t len, const char *want)
{
    struct bk_dockerfile *df = (struct bk_dockerfile *)1;
    int rc = bk_dockerfile_parse(src, len, "Dockerfile", &df);

    assert_int_equal(rc, BK_EINVAL);
    assert_null(df);
    assert_string_equal(bk_error_msg(), want);
}

#define expect_error(src, want) expect_error_n((src), strlen(src), (want))

static void test_bom_and_crlf(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    expect_dump("\xEF\xBB\xBF"
                "FROM a\n",
                "(from \"a\")");
    expect_dump("\xEF\xBB\xBF# escape=`\nFROM a\nRUN x `\n y\n", "(from \"a\")\n(run \"x  y\")");
    /* Only the first line's mark is dropped. */
    df = PARSE("FROM a\n\xEF\xBB\xBFRUN x\n");
    assert_string_equal(df->nodes[1].keyword, "\xEF\xBB\xBFrun");
    bk_dockerfile_free(df);
    expect_dump("FROM a\r\nRUN echo hi \\\r\n  there\r\n\r\nUSER me\r\n",
                "(from \"a\")\n(run \"echo hi   there\")\n(user \"me\")");
}

static void test_directives(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    df = PARSE("# syntax=docker/dockerfile:1.7\n#  ESCAPE = `  \n# Check=skip=all\nFROM a\n"
               "RUN dir C:\\ `\n  x\n");
    assert_int_equal(df->escape, '`');
    assert_string_equal(df->syntax, "docker/dockerfile:1.7");
    assert_string_equal(df->check, "skip=all");
    bk_dockerfile_free(df);
    expect_dump("# escape=`\nFROM a\nRUN dir C:\\ `\n  x\n",
                "(from \"a\")\n(run \"dir C:\\\\   x\")");
    /* Scanning stops at an ordinary comment, a blank line, an unknown name, an
     * instruction: a later escape line is a plain comment. */
    expect_dump("# hello\n# escape=`\nFROM a\nRUN a \\\nb\n", "(from \"a\")\n(run \"a b\")");
    expect_dump("\n# escape=`\nFROM a\nRUN a \\\nb\n", "(from \"a\")\n(run \"a b\")");
    expect_dump("# foo=bar\n# escape=`\nFROM a\nRUN a \\\nb\n", "(from \"a\")\n(run \"a b\")");
    expect_dump("FROM a\n# escape=`\nRUN a \\\nb\n", "(from \"a\")\n(run \"a b\")");
    /* A shebang is an ordinary comment for this parser. */
    expect_dump("#!/bin/x\n# escape=`\nFROM a\nRUN a \\\nb\n", "(from \"a\")\n(run \"a b\")");
    expect_error("# escape=`\n# ESCAPE=\\\nFROM a\n",
                 "Dockerfile:2: only one escape parser directive can be used");
    expect_error("# syntax=a\n# syntax=b\nFROM a\n",
                 "Dockerfile:2: only one syntax parser directive can be used");
    expect_error("# escape=x\nFROM a\n",
                 "Dockerfile:1: invalid escape token 'x' does not match ` or \\");
}

static void test_continuations(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    /* Comment and blank lines inside a continuation are dropped; the
     * blank one raises a warning. */
    df = PARSE("FROM a\nRUN a \\\n  # note\n\n   \n  b\n");
    assert_int_equal(df->nwarnings, 1);
    bk_dockerfile_free(df);
    expect_dump("FROM a\nRUN a \\\n  # note\n\n  b\n", "(from \"a\")\n(run \"a   b\")");
    /* A comment never continues. */
    expect_dump("# c \\\nFROM a\n", "(from \"a\")");
    /* Trailing blanks after the escape still continue; no separator is added. */
    expect_dump("FROM a\nRUN echo foo\\  \t\nbar\n", "(from \"a\")\n(run \"echo foobar\")");
    /* \\ at the end is two literal escapes, not a continuation. */
    expect_dump("FROM a\nRUN echo a\\\\\nRUN echo b\n",
                "(from \"a\")\n(run \"echo a\\\\\\\\\")\n(run \"echo b\")");
    /* A line made of the escape character alone continues. */
    expect_dump("FROM a\nRUN a \\\n\\\n b\n", "(from \"a\")\n(run \"a  b\")");
    /* End of file while continuing ends the instruction. */
    expect_dump("FROM a\nRUN a \\\n", "(from \"a\")\n(run \"a\")");
    /* The backtick escape: backslash is literal, backtick continues. */
    expect_dump("# escape=`\nFROM a\nRUN a \\\nRUN b `\n c\n",
                "(from \"a\")\n(run \"a \\\\\")\n(run \"b  c\")");
}

static void test_heredoc_body_not_parsed(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    df = PARSE("FROM a\nCOPY <<EOF /etc/x.conf\nRUN --mount=type=cache,target=/x true\n"
               "# not a comment\nEOF\nRUN b\n");
    assert_int_equal(df->nnodes, 3);
    assert_string_equal(df->nodes[1].keyword, "copy");
    assert_int_equal(df->nodes[1].nheredocs, 1);
    assert_string_equal(df->nodes[1].heredocs[0].name, "EOF");
    assert_string_equal(df->nodes[1].heredocs[0].content,
                        "RUN --mount=type=cache,target=/x true\n# not a comment\n");
    assert_int_equal(df->nodes[1].start_line, 2);
    assert_int_equal(df->nodes[1].end_line, 5);
    assert_string_equal(df->nodes[2].keyword, "run");
    assert_int_equal(df->nodes[2].nflags, 0);
    assert_int_equal(df->nodes[2].start_line, 6);
    bk_dockerfile_free(df);
}

static void test_heredoc_variants(void **state)
{
    struct bk_dockerfile *df;
    struct bk_df_node *n;

    (void)state;
    df = PARSE("FROM a\n"
               "RUN <<-EOT\n\techo hi\n\tEOT\n"
               "RUN 3<<'Q1' cat <<\"Q2\"\none\nQ1\ntwo\nQ2\n"
               "COPY <<EO\"F\" <<  B /dst\nx\nEOF\nB\n"
               "RUN --mount=type=cache,target=/c <<EOF\nEOF \nEOF\n");
    assert_int_equal(df->nnodes, 5);
    n = &df->nodes[1];
    assert_int_equal(n->nheredocs, 1);
    assert_int_equal(n->heredocs[0].chomp, 1);
    assert_int_equal(n->heredocs[0].expand, 1);
    assert_int_equal(n->heredocs[0].fd, -1);
    assert_string_equal(n->heredocs[0].content, "\techo hi\n"); /* kept raw, as BuildKit */
    assert_int_equal(n->end_line, 4);
    n = &df->nodes[2];
    assert_int_equal(n->nheredocs, 2);
    assert_string_equal(n->heredocs[0].name, "Q1");
    assert_int_equal(n->heredocs[0].fd, 3);
    assert_int_equal(n->heredocs[0].expand, 0);
    assert_string_equal(n->heredocs[0].content, "one\n");
    assert_string_equal(n->heredocs[1].name, "Q2");
    assert_int_equal(n->heredocs[1].expand, 0);
    assert_string_equal(n->heredocs[1].content, "two\n");
    n = &df->nodes[3];
    assert_int_equal(n->nheredocs, 2);
    assert_string_equal(n->heredocs[0].name, "EOF");
    assert_int_equal(n->heredocs[0].expand, 0);
    assert_string_equal(n->heredocs[1].name, "B");
    assert_string_equal(n->heredocs[1].content, "");
    /* A trailing blank after the terminator keeps it in the body. */
    n = &df->nodes[4];
    assert_int_equal(n->nflags, 1);
    assert_string_equal(n->heredocs[0].content, "EOF \n");
    assert_int_equal(n->end_line, 16);
    bk_dockerfile_free(df);
}

static void test_heredoc_not_openers(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    /* Exec form, quoted words, <<<, cat<<, other instructions: no heredoc. */
    df = PARSE("FROM a\nRUN [\"<<EOF\"]\nRUN echo '<<EOF' \"<<EOF\" <<<EOF cat<<EOF\n"
               "USER <<EOF\nENV a=<<EOF\n");
    assert_int_equal(df->nnodes, 5);
    for (size_t i = 0; i < df->nnodes; i++)
        assert_int_equal(df->nodes[i].nheredocs, 0);
    assert_int_equal(df->nodes[1].json, 1);
    bk_dockerfile_free(df);
    /* An unbalanced quote hides every opener: the "body" is instructions. */
    expect_dump("FROM a\nRUN <<'EOF\nhello\nEOF\n",
                "(from \"a\")\n(run \"<<'EOF\")\n(hello \"\")\n(eof \"\")");
    /* BuildKit's lexer splits `<<- EOF` into two words: not an opener. */
    expect_dump("FROM a\nRUN cat <<- EOF\nEOF\n",
                "(from \"a\")\n(run \"cat <<- EOF\")\n(eof \"\")");
}

static void test_heredoc_errors_and_onbuild(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    expect_error("FROM a\nRUN <<EOF\necho hi\n", "Dockerfile:2: unterminated heredoc");
    expect_error("FROM a\nCOPY <<A <<B /d\na\nA\nb\n", "Dockerfile:2: unterminated heredoc");
    df = PARSE("FROM a\nONBUILD RUN <<EOF\nRUN x\nEOF\n");
    assert_int_equal(df->nnodes, 2);
    assert_int_equal(df->nodes[1].nheredocs, 1);
    assert_string_equal(df->nodes[1].heredocs[0].content, "RUN x\n");
    bk_dockerfile_free(df);
}

static void test_flags(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    df = PARSE("FROM a\nRUN --mount=\"type=cache,target=/x y\" --network=none  echo  hi \n");
    assert_int_equal(df->nodes[1].nflags, 2);
    assert_string_equal(df->nodes[1].flags[0], "--mount=type=cache,target=/x y");
    assert_string_equal(df->nodes[1].flags[1], "--network=none");
    assert_string_equal(df->nodes[1].rest, "echo  hi");
    assert_int_equal(df->nodes[1].json, 0);
    bk_dockerfile_free(df);
    /* Flags only before the arguments. */
    expect_dump("FROM a\nRUN echo --mount=type=cache,target=/x\n",
                "(from \"a\")\n(run \"echo --mount=type=cache,target=/x\")");
    /* Quotes removed, escapes applied (also inside '...'), `--` ends flags. */
    expect_dump("FROM a\nRUN --a='x y' --b=p\\ q --c='\\'' -- --mount=x echo\n",
                "(from \"a\")\n(run [\"--a=x y\" \"--b=p q\" \"--c='\"] \"--mount=x echo\")");
    /* With the backtick escape a backslash in a flag is literal. */
    expect_dump("# escape=`\nFROM a\nRUN --mount=target=C:\\cache,id=a`,b x\n",
                "(from \"a\")\n(run [\"--mount=target=C:\\\\cache,id=a,b\"] \"x\")");
    /* Bytes are read as Latin-1: UTF-8 in a flag is encoded twice. */
    df = PARSE("FROM a\nRUN --mount=type=cache,id=caf\xC3\xA9 true\n");
    assert_string_equal(df->nodes[1].flags[0], "--mount=type=cache,id=caf\xC3\x83\xC2\xA9");
    bk_dockerfile_free(df);
    /* RUN--mount is one unknown keyword. */
    expect_dump("FROM a\nRUN--mount=type=cache x\n", "(from \"a\")\n(run--mount=type=cache \"\")");
    /* Flags of an ONBUILD trigger belong to the inner node. */
    expect_dump("FROM a\nONBUILD RUN --mount=type=cache,target=/x make\n",
                "(from \"a\")\n(onbuild (run [\"--mount=type=cache,target=/x\"] \"make\"))");
}

static void test_json_forms(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    expect_dump("FROM a\nCMD []\nCMD [\"a\", \"b\"]\nRUN ['a']\nRUN [\"a\", 1\nRUN [\"a\"] x\n",
                "(from \"a\")\n(cmd)\n(cmd \"a\" \"b\")\n(run \"['a']\")\n(run \"[\\\"a\\\", 1\")\n"
                "(run \"[\\\"a\\\"] x\")");
    expect_error("FROM a\nRUN [\"a\", 1]\n",
                 "Dockerfile:2: when using JSON array syntax, arrays must be comprised of "
                 "strings only");
    expect_error("FROM a\nCOPY [\"a\", {\"b\": null}]\n",
                 "Dockerfile:2: when using JSON array syntax, arrays must be comprised of "
                 "strings only");
    df = PARSE("FROM a\nCMD [\"x\\u0000y\", \"\\ud83d\\ude00\", \"\\ud800\"]\n");
    assert_int_equal(df->nodes[1].nargs, 3);
    assert_int_equal(df->nodes[1].arglens[0], 3);
    assert_memory_equal(df->nodes[1].args[0], "x\0y", 3);
    assert_string_equal(df->nodes[1].args[1], "\xF0\x9F\x98\x80");
    assert_string_equal(df->nodes[1].args[2], "\xEF\xBF\xBD");
    bk_dockerfile_free(df);
    expect_dump("FROM a\nCMD [\"x\\u0000\\u007f\\u00a0\"]\n",
                "(from \"a\")\n(cmd \"x\\x00\\x7f\\u00a0\")");
}

static void test_argument_forms(void **state)
{
    (void)state;
    expect_dump(
        "FROM --platform=$X img AS Base\nEXPOSE 80  443/udp\n"
        "ENV a=1 b=\"x y\" c=d\\ e\nENV legacy  value with  spaces\n"
        "LABEL \"k\"='v'\nARG V=\"1 2\" W\nVOLUME /a /b\nCOPY [\"a b\", \"/c\"]\n"
        "ADD a  b\nUSER  root:root \nWORKDIR /w x\nSTOPSIGNAL SIGKILL\nMAINTAINER Me <m@x>\n"
        "HEALTHCHECK --interval=5s CMD [\"curl\", \"x\"]\nHEALTHCHECK NONE\n"
        "SHELL [\"sh\", \"-c\"]\nENTRYPOINT exec x\nfoo bar\nRUN\nONBUILD\n",
        "(from [\"--platform=$X\"] \"img\" \"AS\" \"Base\")\n(expose \"80\" \"443/udp\")\n"
        "(env \"a\" \"1\" \"=\" \"b\" \"\\\"x y\\\"\" \"=\" \"c\" \"d\\\\ e\" \"=\")\n"
        "(env \"legacy\" \"value with  spaces\" \"\")\n"
        "(label \"\\\"k\\\"\" \"'v'\" \"=\")\n(arg \"V=\\\"1 2\\\"\" \"W\")\n"
        "(volume \"/a\" \"/b\")\n(copy \"a b\" \"/c\")\n(add \"a\" \"b\")\n"
        "(user \"root:root\")\n(workdir \"/w x\")\n(stopsignal \"SIGKILL\")\n"
        "(maintainer \"Me <m@x>\")\n"
        "(healthcheck [\"--interval=5s\"] \"CMD\" \"curl\" \"x\")\n(healthcheck \"NONE\")\n"
        "(shell \"sh\" \"-c\")\n(entrypoint \"exec x\")\n(foo \"\")\n(run)\n(onbuild)");
    expect_error("FROM a\nENV PATH\n", "Dockerfile:2: ENV must have two arguments");
    expect_error("FROM a\nLABEL a=1 b\n",
                 "Dockerfile:2: Syntax error - can't find = in \"b\". Must be of the form: "
                 "name=value");
}

static void test_no_instructions(void **state)
{
    (void)state;
    expect_error("", "Dockerfile:1: file with no instructions");
    expect_error("# a\n\n  # b\n", "Dockerfile:3: file with no instructions");
    expect_error("\xEF\xBB\xBF", "Dockerfile:1: file with no instructions");
}

static char *long_line_file(size_t line_len, const char *prefix)
{
    size_t plen = strlen(prefix);
    char *s = malloc(plen + line_len + 2);

    assert_non_null(s);
    memcpy(s, prefix, plen);
    memcpy(s + plen, "RUN ", 4);
    memset(s + plen + 4, 'x', line_len - 4);
    s[plen + line_len] = '\n';
    s[plen + line_len + 1] = '\0';
    return s;
}

static void test_line_limit(void **state)
{
    struct bk_dockerfile *df;
    char *s;

    (void)state;
    s = long_line_file(65535, "FROM a\n");
    df = PARSE(s);
    assert_int_equal(df->nnodes, 2);
    assert_int_equal(df->nodes[1].nargs, 1);
    assert_int_equal(strlen(df->nodes[1].args[0]), 65531);
    bk_dockerfile_free(df);
    free(s);
    s = long_line_file(65536, "FROM a\n");
    expect_error(s, "Dockerfile:2: dockerfile line greater than max allowed size of 65535");
    free(s);
    /* Without a final newline the limit is the same. */
    s = long_line_file(65536, "FROM a\n");
    expect_error_n(s, strlen(s) - 1,
                   "Dockerfile:2: dockerfile line greater than max allowed size of 65535");
    free(s);
    /* As in BuildKit, a too-long first line means no instruction was read. */
    s = long_line_file(70000, "");
    expect_error(s, "Dockerfile:1: file with no instructions");
    free(s);
}

static void test_line_numbers(void **state)
{
    struct bk_dockerfile *df;

    (void)state;
    df = PARSE("\n# c\nFROM a\n\nRUN a \\\n\n  b \\\n  # c\n  c\nCOPY <<E /x\n1\nE\nUSER u");
    assert_int_equal(df->nnodes, 4);
    assert_int_equal(df->start_line, 3);
    assert_int_equal(df->end_line, 13);
    assert_int_equal(df->nodes[0].start_line, 3);
    assert_int_equal(df->nodes[0].end_line, 3);
    assert_int_equal(df->nodes[1].start_line, 5);
    assert_int_equal(df->nodes[1].end_line, 9);
    assert_int_equal(df->nodes[2].start_line, 10);
    assert_int_equal(df->nodes[2].end_line, 12);
    assert_int_equal(df->nodes[3].start_line, 13);
    assert_int_equal(df->nodes[3].end_line, 13);
    assert_string_equal(df->nodes[1].original, "RUN a   b   c");
    bk_dockerfile_free(df);
}

/* Found by fuzzing against BuildKit's own code: NUL bytes are data. */
static void test_nul_bytes(void **state)
{
    static const char src[] = "FROM a\nRUN\0 --mount=type=cache,target=/x true\nRUN --a=b\0c x\n";
    static const char heredoc[] = "FROM a\nRUN <<E\0F\n\nE\n";
    struct bk_dockerfile *df;

    (void)state;
    /* A NUL in the keyword makes it unknown, never RUN. */
    df = parse_ok(src, sizeof(src) - 1);
    assert_string_equal(df->nodes[1].keyword, "run\xEF\xBF\xBD");
    assert_int_equal(df->nodes[1].nflags, 1); /* split before dispatch, as in BuildKit */
    assert_int_equal(df->nodes[2].flaglens[0], 7);
    assert_memory_equal(df->nodes[2].flags[0], "--a=b\0c", 7);
    bk_dockerfile_free(df);
    /* The heredoc name holds the NUL, so a blank line does not end it. */
    expect_error_n(heredoc, sizeof(heredoc) - 1, "Dockerfile:2: unterminated heredoc");
}

static void test_go_quote(void **state)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;

    (void)state;
    bk_go_quote(&sb, "a\"b\\c\td\n\x01\x7f\xff \xE2\x99\xA5 \xC2\xA0 \xC2\x85");
    assert_string_equal(sb.buf,
                        "\"a\\\"b\\\\c\\td\\n\\x01\\x7f\\xff \xE2\x99\xA5 \\u00a0 \\u0085\"");
    bk_strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bom_and_crlf),
        cmocka_unit_test(test_directives),
        cmocka_unit_test(test_continuations),
        cmocka_unit_test(test_heredoc_body_not_parsed),
        cmocka_unit_test(test_heredoc_variants),
        cmocka_unit_test(test_heredoc_not_openers),
        cmocka_unit_test(test_heredoc_errors_and_onbuild),
        cmocka_unit_test(test_flags),
        cmocka_unit_test(test_json_forms),
        cmocka_unit_test(test_argument_forms),
        cmocka_unit_test(test_no_instructions),
        cmocka_unit_test(test_line_limit),
        cmocka_unit_test(test_line_numbers),
        cmocka_unit_test(test_nul_bytes),
        cmocka_unit_test(test_go_quote),
    };
    return cmocka_run_group_tests_name("core/dockerfile", tests, NULL, NULL);
}
