# lib.sh - helpers for the object store suites, sourced by run.sh.
#
# t NAME FUNC: run FUNC in a subshell (set -e), count it as passed or
# failed, and show its output only when it fails. Servers started with
# start_server are stopped by run.sh's trap.

pass=0
fail=0
failed_names=""

t() {
    name=$1
    shift
    out=$TMP/out.$$
    t0=$(date +%s)
    if (set -e; "$@") >"$out" 2>&1; then
        pass=$((pass + 1))
        echo "ok   - $name ($(($(date +%s) - t0))s)"
    else
        fail=$((fail + 1))
        failed_names="$failed_names $name"
        echo "FAIL - $name"
        sed 's/^/    | /' "$out" | tail -30
    fi
}

# start_server LOGFILE CMD...: start CMD in the background and record its
# pid for run.sh's trap (call it in the main shell, not in $(...)).
start_server() {
    slog=$1
    shift
    : >"$slog"
    "$@" >"$slog" 2>&1 &
    pids="$pids $!"
}

# server_port NAME LOGFILE: wait (20 s) for a "listening on 127.0.0.1:PORT"
# line in LOGFILE and print PORT.
server_port() {
    i=0
    while [ $i -lt 200 ]; do
        port=$(sed -n 's/.*[Ll]istening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p;s/.*listens on http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$2" | head -1)
        if [ -n "$port" ]; then
            echo "$port"
            return 0
        fi
        sleep 0.1
        i=$((i + 1))
    done
    echo "$1 did not start:" >&2
    cat "$2" >&2
    return 1
}

# objectstore_npm_ci DIR: install DIR/package-lock.json's servers (s3rver,
# Azurite, the fault proxy's signer; DIR is tests/objectstore) with
# `npm ci`, once per lock file. Also used by tests/release.
objectstore_npm_ci() {
    osdir=$1
    lock_sum=$(sha256sum "$osdir/package-lock.json" | cut -d' ' -f1)
    [ "$(cat "$osdir/node_modules/.bkcache-lock" 2>/dev/null)" = "$lock_sum" ] && return 0
    echo "installing the test servers (npm ci)"
    (cd "$osdir" && npm ci --no-audit --no-fund --loglevel=error) || {
        echo "npm ci failed"
        return 1
    }
    echo "$lock_sum" >"$osdir/node_modules/.bkcache-lock"
}

# expect_rc WANT CMD...: run CMD, fail unless its exit status is WANT.
expect_rc() {
    want=$1
    shift
    set +e
    "$@"
    got=$?
    set -e
    if [ "$got" -ne "$want" ]; then
        echo "expected exit $want, got $got: $*"
        return 1
    fi
}

# Fault proxy control: fault PORT JSON, proxy_reset PORT, proxy_log PORT.
fault() { curl -fsS -X POST "http://127.0.0.1:$1/__fault" -d "$2" >/dev/null; }
proxy_reset() { curl -fsS -X POST "http://127.0.0.1:$1/__reset" >/dev/null; }
proxy_log() { curl -fsS "http://127.0.0.1:$1/__log"; }

# count_log PORT METHOD REGEX: requests in the proxy's log with that method
# whose URL matches REGEX (node does the filtering: no jq needed).
count_log() {
    proxy_log "$1" | node -e '
        let d = ""; process.stdin.on("data", (c) => (d += c)).on("end", () => {
            const re = new RegExp(process.argv[2]);
            console.log(JSON.parse(d).filter((e) => e.method === process.argv[1] && re.test(e.url)).length);
        });' "$2" "$3"
}

# count_stored PORT REGEX: PUTs the server stored (2xx) whose URL matches REGEX
count_stored() {
    proxy_log "$1" | node -e '
        let d = ""; process.stdin.on("data", (c) => (d += c)).on("end", () => {
            const re = new RegExp(process.argv[1]);
            console.log(JSON.parse(d).filter((e) => e.method === "PUT" && re.test(e.url) &&
                e.status >= 200 && e.status < 300).length);
        });' "$2"
}

# randfile PATH BYTES
randfile() { head -c "$2" /dev/urandom >"$1"; }
