/*
 * yaml_json.c - a YAML document as a cJSON tree; see yaml_json.h.
 *
 * libyaml's document loader resolves aliases to the anchored node (the
 * same node index), so converting node by node shares anchors for free;
 * merge keys ("<<") are applied here. A depth limit stops alias cycles.
 */
#include "core/buildspec/yaml_json.h"

#include "core/util/error.h"

#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

static cJSON *node_json(yaml_document_t *doc, yaml_node_t *n, int depth);

static int plain_null(const yaml_node_t *n)
{
    const char *v = (const char *)n->data.scalar.value;
    if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
        return 0;
    return !*v || strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || strcmp(v, "Null") == 0 ||
           strcmp(v, "NULL") == 0;
}

/* Copy the entries of mapping `from` that `to` lacks (a merge key). */
static void merge_into(cJSON *to, const cJSON *from)
{
    const cJSON *e;
    if (!cJSON_IsObject(from))
        return;
    cJSON_ArrayForEach(e, from) if (!cJSON_GetObjectItemCaseSensitive(to, e->string))
        cJSON_AddItemToObject(to, e->string, cJSON_Duplicate(e, 1));
}

static cJSON *mapping_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    cJSON *o = cJSON_CreateObject();
    cJSON *merges = cJSON_CreateArray();

    for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
        yaml_node_t *k = yaml_document_get_node(doc, p->key);
        yaml_node_t *v = yaml_document_get_node(doc, p->value);
        const char *key;
        cJSON *val;

        if (!k || k->type != YAML_SCALAR_NODE)
            continue;
        key = (const char *)k->data.scalar.value;
        val = node_json(doc, v, depth + 1);
        if (strcmp(key, "<<") == 0 && k->data.scalar.style == YAML_PLAIN_SCALAR_STYLE) {
            cJSON_AddItemToArray(merges, val);
            continue;
        }
        cJSON_DeleteItemFromObjectCaseSensitive(o, key); /* a repeated key: the last wins */
        cJSON_AddItemToObject(o, key, val);
    }
    /* explicit keys win over merged ones; among merged, the first wins */
    for (cJSON *m = merges->child; m; m = m->next) {
        if (cJSON_IsArray(m)) {
            const cJSON *e;
            cJSON_ArrayForEach(e, m) merge_into(o, e);
        } else
            merge_into(o, m);
    }
    cJSON_Delete(merges);
    return o;
}

static cJSON *node_json(yaml_document_t *doc, yaml_node_t *n, int depth)
{
    if (!n || depth > MAX_DEPTH)
        return cJSON_CreateNull();
    switch (n->type) {
    case YAML_SCALAR_NODE:
        if (plain_null(n))
            return cJSON_CreateNull();
        return cJSON_CreateString((const char *)n->data.scalar.value);
    case YAML_SEQUENCE_NODE: {
        cJSON *a = cJSON_CreateArray();
        for (yaml_node_item_t *i = n->data.sequence.items.start; i < n->data.sequence.items.top;
             i++)
            cJSON_AddItemToArray(a, node_json(doc, yaml_document_get_node(doc, *i), depth + 1));
        return a;
    }
    case YAML_MAPPING_NODE: return mapping_json(doc, n, depth);
    case YAML_NO_NODE: break;
    }
    return cJSON_CreateNull();
}

int bk_yaml_to_json(const char *name, const char *text, size_t len, cJSON **out)
{
    yaml_parser_t parser;
    yaml_document_t doc;
    yaml_node_t *root;
    int rc = BK_OK;

    *out = NULL;
    if (!yaml_parser_initialize(&parser))
        return bk_error_set(BK_ERR, "%s: cannot start the YAML parser", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
    if (!yaml_parser_load(&parser, &doc)) {
        rc = bk_error_set(BK_EINVAL, "%s:%lu: not YAML: %s", name,
                          (unsigned long)parser.problem_mark.line + 1,
                          parser.problem ? parser.problem : "parse error");
        yaml_parser_delete(&parser);
        return rc;
    }
    root = yaml_document_get_root_node(&doc);
    if (!root || root->type != YAML_MAPPING_NODE)
        rc =
            bk_error_set(BK_EINVAL, "%s: not a compose file (the document is not a mapping)", name);
    else
        *out = node_json(&doc, root, 0);
    yaml_document_delete(&doc);
    yaml_parser_delete(&parser);
    return rc;
}
