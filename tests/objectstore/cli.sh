# cli.sh - save, restore, ls and prune through the real CLI on the object
# stores (examples/Dockerfile's cache mounts, --dir mode). Sourced by
# run.sh.

. "$ROOT/tests/learning/scenario.sh"

cli_probe() {
    mkdir -p "$TMP/probe" && echo x >"$TMP/probe/f"
    "$BKCACHE" pack "$TMP/probe" "$TMP/probe.tar.zst" >/dev/null 2>&1 &&
        "$BKCACHE" plan -f "$ROOT/examples/Dockerfile" --provider local --store "$TMP/probe-store" \
            --dir "$TMP/probe" >"$TMP/probe.out" 2>&1
}

# fill DIR SEED: a small tree with some incompressible data
fill() {
    mkdir -p "$1/sub"
    echo "seed $2" >"$1/sub/a.txt"
    head -c 700000 /dev/urandom >"$1/blob.bin"
}

# fill_caches DIR SEED: DIR/<name> for every cache of examples/Dockerfile
fill_caches() {
    rm -rf "$1"
    for n in $(cli_names); do
        fill "$1/$n" "$2"
    done
}

# the cache names of examples/Dockerfile, one a line
cli_names() {
    "$BKCACHE" plan -f "$ROOT/examples/Dockerfile" --provider local --store "$TMP/probe-store" \
        --dir "$TMP/probe" | grep -E '^[A-Za-z0-9._-]+$'
}

# cli STORE-ARGS... : bkcache with the Dockerfile
cli_round_trip() {
    store=$1
    shift
    src=$TMP/cli-src-$$
    dst=$TMP/cli-dst-$$
    rm -rf "$src" "$dst"
    seed=1
    for n in $(cli_names); do
        fill "$src/$n" $seed
        seed=$((seed + 1))
    done
    df="-f $ROOT/examples/Dockerfile"
    "$BKCACHE" save $df --store "$store" "$@" --dir "$src" --state "$TMP/s1.json" --fail-on-error
    [ "$("$BKCACHE" ls --store "$store" "$@" | grep -c '^bkcache')" -ge 2 ]
    "$BKCACHE" restore $df --store "$store" "$@" --dir "$dst" --state "$TMP/s2.json" \
        --fail-on-cache-miss --fail-on-error
    diff -r -x .bkcache-base "$src" "$dst"
    "$BKCACHE" prune --store "$store" "$@" --keep 0
    [ "$("$BKCACHE" ls --store "$store" "$@" | grep -c '^bkcache')" -eq 0 ]
}

cli_s3() {
    cli_round_trip "s3://bk/cli" --store-opt "endpoint=http://127.0.0.1:$S3P" \
        --store-opt part-size=5M
}

cli_azblob() {
    AZURE_STORAGE_KEY=$AZ_KEY cli_round_trip "azblob://$AZ_ACCOUNT/bkc/cli" \
        --store-opt "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" --store-opt block-size=1M
}

# core retries what the provider reports as transient, honouring Retry-After
cli_s3_retried_by_core() {
    src=$TMP/cli-retry
    fill_caches "$src" 9
    proxy_reset "$S3P"
    fault "$S3P" '{"method":"PUT","match":"/bk/retry/","status":503,"code":"SlowDown","retryAfter":"1","times":2}'
    BKCACHE_RETRIES=3 "$BKCACHE" save -f "$ROOT/examples/Dockerfile" --store s3://bk/retry \
        --store-opt "endpoint=http://127.0.0.1:$S3P" --dir "$src" --fail-on-error
    [ "$(count_log "$S3P" PUT '/bk/retry/')" -ge 3 ]
    [ "$("$BKCACHE" ls --store s3://bk/retry --store-opt "endpoint=http://127.0.0.1:$S3P" |
        grep -c '^bkcache')" -ge 2 ]
}

# two runners saving the same caches at once both succeed
cli_s3_concurrent_saves() {
    src=$TMP/cli-conc
    fill_caches "$src" 5
    set -- -f "$ROOT/examples/Dockerfile" --store s3://bk/conc-cli \
        --store-opt "endpoint=http://127.0.0.1:$S3P" --dir "$src" --fail-on-error
    "$BKCACHE" save "$@" --state "$TMP/c1.json" &
    p1=$!
    "$BKCACHE" save "$@" --state "$TMP/c2.json" &
    p2=$!
    wait $p1
    wait $p2
    rm -rf "$TMP/cli-conc-dst"
    "$BKCACHE" restore -f "$ROOT/examples/Dockerfile" --store s3://bk/conc-cli \
        --store-opt "endpoint=http://127.0.0.1:$S3P" --dir "$TMP/cli-conc-dst" \
        --fail-on-cache-miss --fail-on-error
    diff -r -x .bkcache-base "$src" "$TMP/cli-conc-dst"
}

# caches that keep learning: runs of one key (tests/learning/scenario.sh)
cli_s3_learning() {
    learning_scenario "$TMP/learn-s3" 1 --store s3://bk/learn \
        --store-opt "endpoint=http://127.0.0.1:$S3P"
}

cli_azblob_learning() {
    AZURE_STORAGE_KEY=$AZ_KEY learning_scenario "$TMP/learn-az" 1 \
        --store "azblob://$AZ_ACCOUNT/bkc/learn" --store-opt "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT"
}

run_cli_suite() {
    t "cli: pack and plan work in this build" cli_probe
    t "cli: save, ls, restore, prune on s3" cli_s3
    t "cli: save, ls, restore, prune on azblob" cli_azblob
    t "cli: SlowDown on upload retried by core" cli_s3_retried_by_core
    t "cli: two saves of the same caches at once" cli_s3_concurrent_saves
    t "cli: s3 keeps learning: runs of one key" cli_s3_learning
    t "cli: azblob keeps learning: runs of one key" cli_azblob_learning
    t "cli: the layer cache on s3, blob by blob" layers_s3
    t "cli: the layer cache on azblob, blob by blob" layers_azblob
}

# ---- the layer cache (--layers): blobs at PREFIX/blobs/sha256/<hex>, uploaded once ----

# count_stored PORT REGEX: PUTs the server stored (2xx) whose URL matches REGEX
count_stored() {
    proxy_log "$1" | node -e '
        let d = ""; process.stdin.on("data", (c) => (d += c)).on("end", () => {
            const re = new RegExp(process.argv[1]);
            console.log(JSON.parse(d).filter((e) => e.method === "PUT" && re.test(e.url) &&
                e.status >= 200 && e.status < 300).length);
        });' "$2"
}

# layers_on PORT PATH-REGEX PROVIDER-ARGS...: the shared cases, then the server's own
# record (the fault proxy's log): 10 blobs stored in all (7, then 3 after a one-line
# change; none it held already), each under blobs/sha256/<64 hex>.
layers_on() {
    port=$1 re=$2
    shift 2
    proxy_reset "$port"
    LAYERS_WORK=$TMP/layers-$port bash "$ROOT/tests/layers/run_cases.sh" "$@"
    puts=$(count_stored "$port" "${re}blobs/sha256/[0-9a-f]{64}(\\?|\$)")
    echo "blobs stored: $puts"
    [ "$puts" -eq 10 ]
}

layers_s3() {
    layers_on "$S3P" '/bk/layers/' --store s3://bk/layers \
        --store-opt "endpoint=http://127.0.0.1:$S3P"
}

layers_azblob() {
    AZURE_STORAGE_KEY=$AZ_KEY layers_on "$AZP" "/bkl/layers/" \
        --store "azblob://$AZ_ACCOUNT/bkl/layers" \
        --store-opt "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT"
}
