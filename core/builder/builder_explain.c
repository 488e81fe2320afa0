/*
 * builder_explain.c - what a failed BuildKit client's output means.
 *
 * bk_builder__explain() turns a failed client's output into one of the
 * one-line explanations users need: the docker client needs the buildx
 * component, the daemon has no BuildKit, permission denied on the socket,
 * the daemon is unreachable; anything else is "<what> failed" with the
 * client's last real line.
 *
 * Only the clients' own error messages count, matched where the client
 * prints them: at the start of a line, after the "ERROR: " (buildx, docker
 * 23+), "Error: " (docker buildx inspect) or "error: " (buildctl) prefix
 * when there is one. A build's own output ("#3 0.137 runc run failed: ...
 * no such file or directory", the "0.088 ... permission denied" lines of
 * the error box) never starts that way, so a RUN that fails with those
 * words stays a failed build. Every phrase below was seen in a recorded
 * client's output (tests/data/clients/, tested one by one in
 * tests/unit/test_core_builder_explain.c), except buildctl's, which follow
 * BuildKit's client (no buildctl on the test machine).
 */
#include "core/builder/builder.h"

#include "core/util/error.h"

#include <stdio.h>
#include <string.h>

enum meaning { NO_BUILDX, NO_BUILDKIT, DENIED, UNREACHABLE, DIAL };

struct client_message {
    const char *phrase; /* at the start of a line, after an optional error prefix */
    enum meaning meaning;
};

static const struct client_message messages[] = {
    /* docker 23+ without buildx: every BuildKit `docker build` */
    {"BuildKit is enabled but the buildx component is missing or broken", NO_BUILDX},
    /* docker 20.10 and 26: `docker buildx` without the plugin */
    {"docker: 'buildx' is not a docker command", NO_BUILDX},
    /* docker 28: the same */
    {"docker: unknown command: docker buildx", NO_BUILDX},
    /* a daemon older than 18.09, from DOCKER_BUILDKIT=1 docker build */
    {"buildkit not supported by daemon", NO_BUILDKIT},
    /* docker 20.10, 26, 28 and buildx 0.13, any command */
    {"permission denied while trying to connect to the Docker daemon socket", DENIED},
    {"Cannot connect to the Docker daemon at ", UNREACHABLE},
    /* docker 20.10's BuildKit session: denied or unreachable, by its end */
    {"failed to dial gRPC: cannot connect to the Docker daemon", DIAL},
    /* buildctl: "error: listing workers: connection error: ... dial unix
     * /run/buildkit/buildkitd.sock: connect: no such file or directory" */
    {"listing workers: ", DIAL},
    {"failed to get status: ", DIAL},
};

static const char *const prefixes[] = {"ERROR: ", "Error: ", "error: ", ""};

/* The meaning of `t` (the rest of a line, up to `end`) when it starts with
 * one of the messages, or -1. */
static int message_meaning(const char *t, const char *end)
{
    size_t n = (size_t)(end - t);

    for (size_t i = 0; i < sizeof(messages) / sizeof(messages[0]); i++) {
        size_t ml = strlen(messages[i].phrase);
        if (n < ml || strncmp(t, messages[i].phrase, ml) != 0)
            continue;
        if (messages[i].meaning != DIAL)
            return (int)messages[i].meaning;
        /* a dial error: its last words say why */
        if (memmem(t, n, "connect: permission denied", 26))
            return DENIED;
        if (memmem(t, n, "connect: no such file or directory", 34) ||
            memmem(t, n, "connect: connection refused", 27) ||
            memmem(t, n, "cannot connect to the Docker daemon", 35))
            return UNREACHABLE;
    }
    return -1;
}

/* The meaning of one line of client output, or -1. */
static int line_meaning(const char *s, size_t n)
{
    for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
        size_t pl = strlen(prefixes[i]);
        const char *t = s + pl;
        int m;

        if (n < pl || strncmp(s, prefixes[i], pl) != 0)
            continue;
        while (t < s + n && *t == ' ')
            t++;
        m = message_meaning(t, s + n);
        if (m >= 0)
            return m;
    }
    return -1;
}

/* The first line of `output` with a meaning; its text in `line`. */
static int find_meaning(const char *output, char *line, size_t size)
{
    const char *s = output;

    while (s && *s) {
        const char *e = strchr(s, '\n');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n && s[n - 1] == '\r')
            n--;
        int m = line_meaning(s, n);
        if (m >= 0) {
            snprintf(line, size, "%.*s", (int)(n < 300 ? n : 300), s);
            return m;
        }
        s = e ? e + 1 : NULL;
    }
    return -1;
}

int bk_builder__explain(const char *driver, const char *what, const char *output)
{
    char line[301];
    int m = find_meaning(output, line, sizeof(line));

    switch (m) {
    case NO_BUILDX:
        return bk_error_set(BK_ERR,
                            "%s: BuildKit unavailable: this docker client builds with BuildKit "
                            "only through the buildx component, which is missing (install "
                            "docker-buildx, or pass --docker with another client)",
                            driver);
    case NO_BUILDKIT:
        return bk_error_set(BK_ERR, "%s: BuildKit unavailable: %s uses the legacy builder", driver,
                            what);
    case DENIED:
        return bk_error_set(BK_EDENIED,
                            "%s: permission denied talking to the daemon (add the user to the "
                            "docker group, or run as root): %s",
                            driver, line);
    case UNREACHABLE:
        return bk_error_set(BK_ERR, "%s: the daemon is unreachable (is it running?): %s", driver,
                            line);
    default:
        bk_builder__last_line(output, line, sizeof(line));
        return bk_error_set(BK_ERR, "%s: %s failed: %s", driver, what,
                            line[0] ? line : "no output");
    }
}
