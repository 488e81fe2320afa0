# scenario.sh - caches that keep learning (issue 15), through the real CLI
# in directory mode, for any store. Sourced by each provider's suite, which
# passes its store options; a run is one --run-id (what a CI run's id gives).
#
#   learning_scenario WORKDIR CAN_LIST STORE-ARGS...
#
# run 1 saves; run 2 restores it (an exact hit), changes the cache and saves;
# run 3 restores run 2's content, and its save of the unchanged cache uploads
# nothing; runs 4a and 4b save different trees at once, both entries are
# whole (each restores exactly), and run 5 restores one of them whole. With
# CAN_LIST=1 the store is listed too: runs 3 and 5 added no entry, and at
# most the default 3 runs of the key are left (run 1's was removed).
# Needs $BKCACHE (the binary) and $ROOT (the repository). Returns 1 with a
# message on stderr at the first failed check.

learn_fail() { echo "learning: $*" >&2; return 1; }

# learn_fill DIR SEED: a small cache tree
learn_fill() {
    mkdir -p "$1/sub"
    echo "seed $2" >"$1/sub/a.txt"
    head -c 300000 /dev/urandom >"$1/blob.bin"
}

# learn_field FILE NAME: the value of "NAME": "..." in bkcache's JSON output
learn_field() {
    sed -n "s/^[[:space:]]*\"$2\":[[:space:]]*\"\\(.*\\)\",*\$/\\1/p" "$1" | head -1
}

# learn_count WORKDIR KEY STORE-ARGS...: entries whose key is KEY or a run of it
learn_count() {
    lc_w=$1 lc_key=$2
    shift 2
    "$BKCACHE" ls "$@" >"$lc_w/ls.out" 2>"$lc_w/ls.err" || { cat "$lc_w/ls.err" >&2; echo -1; return; }
    grep -c -E "^$lc_key(-[A-Za-z0-9._-]+)?([[:space:]]|\$)" "$lc_w/ls.out"
}

learning_scenario() {
    lw=$1 lcan=$2
    shift 2
    rm -rf "$lw" && mkdir -p "$lw" || return 1
    ldf="-f $ROOT/examples/Dockerfile"
    lname=$("$BKCACHE" plan $ldf --provider local --store "$lw/none" --dir "$lw/none" |
        grep -E '^[A-Za-z0-9._-]+$' | head -1)
    [ -n "$lname" ] || { learn_fail "no cache name from plan"; return 1; }
    lone="$ldf --mount $lname --fail-on-error --json"

    # run 1: save
    learn_fill "$lw/r1/$lname" 1
    "$BKCACHE" save $lone --run-id r1 --dir "$lw/r1" --state "$lw/s1.json" "$@" >"$lw/o1" ||
        { learn_fail "run 1: save failed"; return 1; }
    lkey=$(learn_field "$lw/o1" key)
    [ "$(learn_field "$lw/o1" action)" = saved ] && [ "$(learn_field "$lw/o1" save_key)" = "$lkey-r1" ] ||
        { learn_fail "run 1: not saved as $lkey-r1"; cat "$lw/o1" >&2; return 1; }
    sleep 1 # stores keep creation times in whole seconds: runs 1 and 2 must differ

    # run 2: restore (an exact hit on run 1's entry), change, save
    "$BKCACHE" restore $lone --run-id r2 --dir "$lw/r2" --state "$lw/s2.json" --fail-on-cache-miss \
        "$@" >"$lw/o2" || { learn_fail "run 2: restore failed"; cat "$lw/o2" >&2; return 1; }
    [ "$(learn_field "$lw/o2" matched_key)" = "$lkey-r1" ] && [ "$(learn_field "$lw/o2" hit)" = exact ] ||
        { learn_fail "run 2: expected an exact hit on $lkey-r1"; cat "$lw/o2" >&2; return 1; }
    diff -r -x .bkcache-base "$lw/r1" "$lw/r2" >/dev/null || { learn_fail "run 2: restored tree differs"; return 1; }
    echo "learned in run 2" >"$lw/r2/$lname/learned.txt"
    echo "changed in run 2" >"$lw/r2/$lname/sub/a.txt"
    "$BKCACHE" save $lone --run-id r2 --dir "$lw/r2" --state "$lw/s2.json" "$@" >"$lw/o2s" ||
        { learn_fail "run 2: save failed"; return 1; }
    [ "$(learn_field "$lw/o2s" action)" = saved ] ||
        { learn_fail "run 2: the changed cache was not saved"; cat "$lw/o2s" >&2; return 1; }
    sleep 1
    [ "$lcan" = 1 ] && ln2=$(learn_count "$lw" "$lkey" "$@")

    # run 3: restores run 2's content; saving it unchanged uploads nothing
    "$BKCACHE" restore $lone --run-id r3 --dir "$lw/r3" --state "$lw/s3.json" --fail-on-cache-miss \
        "$@" >"$lw/o3" || { learn_fail "run 3: restore failed"; return 1; }
    [ "$(learn_field "$lw/o3" matched_key)" = "$lkey-r2" ] ||
        { learn_fail "run 3: expected run 2's entry"; cat "$lw/o3" >&2; return 1; }
    diff -r -x .bkcache-base "$lw/r2" "$lw/r3" >/dev/null || { learn_fail "run 3: not run 2's content"; return 1; }
    "$BKCACHE" save $lone --run-id r3 --dir "$lw/r3" --state "$lw/s3.json" "$@" >"$lw/o3s" ||
        { learn_fail "run 3: save failed"; return 1; }
    [ "$(learn_field "$lw/o3s" action)" = unchanged ] ||
        { learn_fail "run 3: an unchanged cache was uploaded"; cat "$lw/o3s" >&2; return 1; }
    "$BKCACHE" restore $lone --run-id r3 --lookup-only --dir "$lw/r3x" --state "$lw/s3x.json" \
        "$@" >"$lw/o3x" || { learn_fail "run 3: lookup failed"; return 1; }
    [ "$(learn_field "$lw/o3x" matched_key)" = "$lkey-r2" ] ||
        { learn_fail "run 3: the store holds an entry for run 3"; cat "$lw/o3x" >&2; return 1; }
    if [ "$lcan" = 1 ] && [ "$(learn_count "$lw" "$lkey" "$@")" != "$ln2" ]; then
        learn_fail "run 3: the entry count changed"
        return 1
    fi

    # runs 4a and 4b save different trees at the same time
    cp -r "$lw/r3" "$lw/r4a" && cp -r "$lw/r3" "$lw/r4b" || return 1
    echo a >"$lw/r4a/$lname/only-a" && echo b >"$lw/r4b/$lname/only-b"
    "$BKCACHE" save $lone --run-id r4a --dir "$lw/r4a" --state "$lw/s4a.json" "$@" >"$lw/o4a" 2>&1 &
    lpa=$!
    "$BKCACHE" save $lone --run-id r4b --dir "$lw/r4b" --state "$lw/s4b.json" "$@" >"$lw/o4b" 2>&1 &
    lpb=$!
    wait $lpa || { learn_fail "run 4a: save failed"; cat "$lw/o4a" >&2; return 1; }
    wait $lpb || { learn_fail "run 4b: save failed"; cat "$lw/o4b" >&2; return 1; }
    for lr in a b; do # both entries are whole: each restores exactly
        "$BKCACHE" restore $lone --run-id "r4$lr" --dir "$lw/v4$lr" --state "$lw/sv4$lr.json" \
            --fail-on-cache-miss "$@" >"$lw/ov4$lr" || { learn_fail "run 4$lr: restore failed"; return 1; }
        [ "$(learn_field "$lw/ov4$lr" matched_key)" = "$lkey-r4$lr" ] &&
            diff -r -x .bkcache-base "$lw/r4$lr" "$lw/v4$lr" >/dev/null ||
            { learn_fail "run 4$lr: its entry is not its tree"; cat "$lw/ov4$lr" >&2; return 1; }
    done

    # run 5 restores one of them, whole
    "$BKCACHE" restore $lone --run-id r5 --dir "$lw/r5" --state "$lw/s5.json" --fail-on-cache-miss \
        "$@" >"$lw/o5" || { learn_fail "run 5: restore failed"; return 1; }
    diff -r -x .bkcache-base "$lw/r4a" "$lw/r5" >/dev/null 2>&1 || diff -r -x .bkcache-base "$lw/r4b" "$lw/r5" >/dev/null 2>&1 ||
        { learn_fail "run 5: neither run 4's tree"; cat "$lw/o5" >&2; return 1; }
    if [ "$lcan" = 1 ]; then
        ln=$(learn_count "$lw" "$lkey" "$@")
        [ "$ln" -eq 3 ] || { learn_fail "after 4 saves: $ln runs of the key kept, expected 3"; return 1; }
    fi
    return 0
}
