/*
 * ca_bundle.h - which certificates an https request is verified against.
 *
 * libcurl verifies a server against the CA bundle its build was configured
 * with. Debian's libcurl knows Debian's path; the static release binary
 * (mk/release.mk) runs on any distribution and in FROM scratch images, so
 * bkcache looks the bundle up itself, the way most TLS clients on Linux do:
 *
 *   1. SSL_CERT_FILE (a PEM file) and/or SSL_CERT_DIR (a hashed directory)
 *      when set; a set SSL_CERT_FILE that cannot be read is an error, not a
 *      silent fallback;
 *   2. else the bundle libcurl was built with, when that file exists;
 *   3. else the first readable file of the usual places: Debian/Ubuntu,
 *      Fedora/RHEL, openSUSE, Alpine and others (BK_CA_BUNDLE_PATHS).
 *
 * When nothing is found, an https request fails before connecting with one
 * line that says where bkcache looked and to set SSL_CERT_FILE, instead of
 * curl's "unable to get local issuer certificate".
 */
#ifndef BK_CA_BUNDLE_H
#define BK_CA_BUNDLE_H

/* The usual places, most common first; NULL-terminated. */
extern const char *const BK_CA_BUNDLE_PATHS[];

struct bk_ca_bundle {
    const char *file; /* PEM bundle, or NULL */
    const char *dir;  /* hashed certificate directory, or NULL */
};

/* The rules above over explicit inputs (tests): env_file and env_dir are
 * the environment's values (NULL when unset), built_in libcurl's default
 * bundle (NULL when none), candidates a NULL-terminated list. Fills *out
 * (pointers into the inputs); 0, or BK_ERR with the message set. */
int bk_ca_bundle_pick(const char *env_file, const char *env_dir, const char *built_in,
                      const char *const *candidates, struct bk_ca_bundle *out);

/* bk_ca_bundle_pick() over the process's environment, libcurl's build and
 * BK_CA_BUNDLE_PATHS, worked out once per process. Same result and message
 * on every call. */
int bk_ca_bundle_get(struct bk_ca_bundle *out);

#endif
