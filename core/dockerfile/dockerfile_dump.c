/*
 * dockerfile_dump.c - BuildKit's AST dump and Go's string quoting.
 *
 * The dump is what BuildKit's parser tests compare with the fixtures'
 * `result` files: one "(keyword ["flag" ...] "arg" ...)" line per
 * instruction, ONBUILD's trigger nested as "(onbuild (run "x"))". See
 * ../shared/testdata/buildkit-parser/README.md for the format.
 *
 * Quoting follows Go's strconv.Quote: \" and \\, the C escapes \a \b \f \n
 * \r \t \v, other control bytes and invalid UTF-8 bytes as \xNN, printable
 * runes as they are, and non-printable runes as \uNNNN or \UNNNNNNNN. Go
 * decides "printable" from the full Unicode tables; here the non-printable
 * set is the controls, the separators other than ASCII space, the common
 * format characters, private use and noncharacters - the same answer for
 * every rune real Dockerfiles hold, possibly not for unassigned ones.
 */
#include "core/dockerfile/dockerfile_int.h"

#include "core/util/strbuf.h"

static int is_print(uint32_t r)
{
    if (r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0xA0) || r == 0xAD)
        return 0;
    if (r < 0x600)
        return 1;
    if ((r >= 0x600 && r <= 0x605) || r == 0x61C || r == 0x6DD || r == 0x70F || r == 0x890 ||
        r == 0x891 || r == 0x8E2 || r == 0x1680 || r == 0x180E || (r >= 0x2000 && r <= 0x200F) ||
        (r >= 0x2028 && r <= 0x202F) || (r >= 0x205F && r <= 0x206F) || r == 0x3000 ||
        (r >= 0xD800 && r <= 0xF8FF) || r == 0xFEFF || (r >= 0xFFF0 && r <= 0xFFFB))
        return 0;
    if ((r & 0xFFFE) == 0xFFFE || (r >= 0xFDD0 && r <= 0xFDEF))
        return 0;
    if (r == 0x110BD || r == 0x110CD || (r >= 0x13430 && r <= 0x1343F) ||
        (r >= 0x1BCA0 && r <= 0x1BCA3) || (r >= 0x1D173 && r <= 0x1D17A))
        return 0;
    if ((r >= 0x323B0 && r <= 0xE00FF) || (r >= 0xE01F0 && r <= 0x10FFFF))
        return 0;
    return 1;
}

void bk_df__quote(struct bk_strbuf *sb, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;

    bk_strbuf_addch(sb, '"');
    while (i < n) {
        uint32_t r;
        size_t w = bk_df__utf8_decode(u + i, n - i, &r);
        if (r == 0xFFFD && w == 1) {
            bk_strbuf_addf(sb, "\\x%c%c", hex[u[i] >> 4], hex[u[i] & 15]);
        } else if (r == '"' || r == '\\') {
            bk_strbuf_addch(sb, '\\');
            bk_strbuf_addch(sb, (char)r);
        } else if (is_print(r)) {
            bk_strbuf_add(sb, s + i, w);
        } else {
            switch (r) {
            case '\a': bk_strbuf_adds(sb, "\\a"); break;
            case '\b': bk_strbuf_adds(sb, "\\b"); break;
            case '\f': bk_strbuf_adds(sb, "\\f"); break;
            case '\n': bk_strbuf_adds(sb, "\\n"); break;
            case '\r': bk_strbuf_adds(sb, "\\r"); break;
            case '\t': bk_strbuf_adds(sb, "\\t"); break;
            case '\v': bk_strbuf_adds(sb, "\\v"); break;
            default:
                if (r < ' ' || r == 0x7F)
                    bk_strbuf_addf(sb, "\\x%c%c", hex[r >> 4], hex[r & 15]);
                else if (r < 0x10000)
                    bk_strbuf_addf(sb, "\\u%04x", (unsigned)r);
                else
                    bk_strbuf_addf(sb, "\\U%08x", (unsigned)r);
            }
        }
        i += w;
    }
    bk_strbuf_addch(sb, '"');
}

void bk_go_quote(struct bk_strbuf *sb, const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    bk_df__quote(sb, s, n);
}

static uint32_t lower_rune(uint32_t r)
{
    if ((r >= 'A' && r <= 'Z') || (r >= 0xC0 && r <= 0xDE && r != 0xD7) ||
        (r >= 0x391 && r <= 0x3AB && r != 0x3A2) || (r >= 0x410 && r <= 0x42F) ||
        (r >= 0xFF21 && r <= 0xFF3A))
        return r + 0x20;
    if (r >= 0x400 && r <= 0x40F)
        return r + 0x50;
    if (r == 0x130)
        return 'i';
    if (r == 0x178)
        return 0xFF;
    if (r == 0x212A)
        return 'k';
    if (r == 0x212B)
        return 0xE5;
    if (((r >= 0x100 && r <= 0x12F) || (r >= 0x132 && r <= 0x137) || (r >= 0x14A && r <= 0x177)) &&
        !(r & 1))
        return r + 1;
    if (((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17E)) && (r & 1))
        return r + 1;
    return r;
}

void bk_df__lower(struct bk_strbuf *sb, const char *s, size_t n)
{
    const unsigned char *u = (const unsigned char *)s;
    int ascii = 1;
    size_t i = 0;

    for (size_t k = 0; k < n; k++)
        if (u[k] >= 0x80)
            ascii = 0;
    while (i < n) {
        uint32_t r;
        size_t w = bk_df__utf8_decode(u + i, n - i, &r);
        if (ascii)
            bk_strbuf_addch(sb, (char)lower_rune(r));
        else
            bk_df__utf8_encode(sb, lower_rune(r));
        i += w;
    }
}

static void dump_node(const struct bk_df_node *node, struct bk_strbuf *sb)
{
    struct bk_strbuf tmp = BK_STRBUF_INIT;
    const char *t;
    size_t tn;

    bk_strbuf_adds(&tmp, node->keyword);
    if (node->nflags > 0) {
        bk_strbuf_adds(&tmp, " [");
        for (size_t i = 0; i < node->nflags; i++) {
            if (i > 0)
                bk_strbuf_addch(&tmp, ' ');
            bk_df__quote(&tmp, node->flags[i], node->flaglens[i]);
        }
        bk_strbuf_addch(&tmp, ']');
    }
    for (size_t i = 0; i < node->nargs; i++) {
        bk_strbuf_addch(&tmp, ' ');
        bk_df__quote(&tmp, node->args[i], node->arglens[i]);
    }
    if (node->sub) {
        bk_strbuf_adds(&tmp, " (");
        dump_node(node->sub, &tmp);
        bk_strbuf_addch(&tmp, ')');
    }
    t = tmp.buf, tn = tmp.len;
    bk_df__trim_space(&t, &tn);
    bk_strbuf_add(sb, t, tn);
    bk_strbuf_release(&tmp);
}

void bk_dockerfile_dump(const struct bk_dockerfile *df, struct bk_strbuf *sb)
{
    for (size_t i = 0; i < df->nnodes; i++) {
        if (i > 0)
            bk_strbuf_addch(sb, '\n');
        bk_strbuf_addch(sb, '(');
        dump_node(&df->nodes[i], sb);
        bk_strbuf_addch(sb, ')');
    }
}
