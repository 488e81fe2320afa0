/*
 * azure_vso.c - escaping for Azure Pipelines logging commands.
 *
 * A logging command is one stdout line `##vso[area.action k=v;k=v]message`.
 * The agent unescapes property values with %AZP25 -> %, %0D -> CR,
 * %0A -> LF, %5D -> ], %3B -> ; and the message with the first three only
 * (spec section 2.1), so these functions apply the inverse. Both return a
 * new string the caller frees.
 */
#include "providers/azure_common.h"

#include "core/util/strbuf.h"

static char *escape(const char *s, int property)
{
    struct bk_strbuf sb = BK_STRBUF_INIT;
    for (; *s; s++) {
        switch (*s) {
        case '%': bk_strbuf_adds(&sb, "%AZP25"); break;
        case '\r': bk_strbuf_adds(&sb, "%0D"); break;
        case '\n': bk_strbuf_adds(&sb, "%0A"); break;
        case ']': bk_strbuf_adds(&sb, property ? "%5D" : "]"); break;
        case ';': bk_strbuf_adds(&sb, property ? "%3B" : ";"); break;
        default: bk_strbuf_addch(&sb, *s);
        }
    }
    return bk_strbuf_detach(&sb);
}

char *azure_vso_escape_property(const char *s)
{
    return escape(s, 1);
}

char *azure_vso_escape_message(const char *s)
{
    return escape(s, 0);
}
