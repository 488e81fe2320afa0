/*
 * azblob.h - the Azure Blob store's pure pieces, for providers/azblob*.c
 * and the unit tests: configuration and Shared Key signing. No network.
 * Strings in struct azblob_config belong to it (azblob_config_release()).
 */
#ifndef BK_PROVIDERS_AZBLOB_H
#define BK_PROVIDERS_AZBLOB_H

#include "core/util/strvec.h"
#include "providers/provider.h"

#include <stdint.h>

#define AZBLOB_DEFAULT_BLOCK (32ull << 20)
#define AZBLOB_DEFAULT_PARALLEL 8

/*
 * --store azblob://ACCOUNT/CONTAINER[/PREFIX], then, in order:
 *   endpoint     endpoint= (Azurite: http://127.0.0.1:10000/devstoreaccount1),
 *                the connection string's BlobEndpoint, else
 *                https://ACCOUNT.blob.core.windows.net (EndpointSuffix and
 *                DefaultEndpointsProtocol of a connection string apply)
 *   credentials  AZURE_STORAGE_CONNECTION_STRING (AccountKey or
 *                SharedAccessSignature), else AZURE_STORAGE_KEY (Shared Key;
 *                AZURE_STORAGE_ACCOUNT, when set, must name the same account),
 *                else AZURE_STORAGE_SAS_TOKEN; one of them is required
 *   block_size   block-size= (bytes per block and per ranged GET), 32 MiB
 *   parallel     parallel= (1..64), 8
 *   list_page    list-page= (maxresults, 1..5000), 5000
 */
struct azblob_config {
    char *account;
    char *container;
    char *prefix;   /* "" or ending in '/' */
    char *endpoint; /* no trailing '/' */
    char *key;      /* base64 account key, or NULL */
    char *sas;      /* SAS query string without '?', or NULL */
    uint64_t block_size;
    int parallel;
    int list_page;
};

int azblob_parse_config(const struct bk_provider_config *cfg, struct azblob_config *out);
void azblob_config_release(struct azblob_config *c);

/* URL of blob `name` (NULL: the container), with the SAS appended when set. */
char *azblob_url(const struct azblob_config *c, const char *name);

/*
 * Shared Key: append "x-ms-date" (`date` is an RFC 1123 date, NULL for
 * now) and "Authorization: SharedKey ACCOUNT:SIGNATURE" to `headers`, the
 * request's "Name: value" lines (x-ms-version among them). The string to
 * sign covers the verb, the standard headers present (Content-Length when
 * not 0, Content-Type, Range ...), every x-ms-* header and the resource
 * (/ACCOUNT + URL path, then the query parameters, sorted).
 */
int azblob_sign_shared_key(const char *account, const char *key_b64, const char *method,
                           const char *url, uint64_t content_length, struct bk_strvec *headers,
                           const char *date);

#endif
