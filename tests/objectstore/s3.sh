# s3.sh - the s3 provider against s3rver behind the SigV4-checking fault
# proxy (port $S3P), through the vtable driver. Sourced by run.sh.

# s3d PREFIX COMMAND ARGS: the driver on s3://bk/PREFIX.
s3d() {
    p=$1
    shift
    "$DRIVER" -p s3 -s "s3://bk/$p" -o "endpoint=http://127.0.0.1:$S3P" -o part-size=5M "$@"
}

s3_round_trip_and_restore_keys() {
    randfile "$TMP/a" 100000
    randfile "$TMP/b" 200000
    s3d rt upload "go-linux-aaa" "$TMP/a" "go-build id"
    sleep 1.1 # LastModified has one-second resolution
    s3d rt upload "go-linux-bbb" "$TMP/b"
    s3d rt upload "other-ccc" "$TMP/a"
    # exact key first, even though a newer entry shares the prefix
    s3d rt lookup go-linux-aaa go-linux- | grep -q '^go-linux-aaa 100000 '
    # restore keys in order; the newest match of the first that matches wins
    s3d rt lookup go-linux-zzz nomatch- go-linux- | grep -q '^go-linux-bbb 200000 '
    s3d rt download go-linux-zzz "$TMP/out" go- >/dev/null
    cmp "$TMP/b" "$TMP/out"
    expect_rc 3 s3d rt lookup go-windows-x go-windows-
    [ "$(s3d rt list | wc -l)" -eq 3 ]
    s3d rt remove go-linux-bbb
    [ "$(s3d rt list | wc -l)" -eq 2 ]
    expect_rc 3 s3d rt lookup go-linux-bbb
    # another prefix of the same bucket is another store
    expect_rc 3 s3d elsewhere lookup go-linux-aaa go-
}

s3_keys_with_odd_characters() {
    randfile "$TMP/a" 1000
    s3d odd upload "k 1+é/x=y&z" "$TMP/a"
    s3d odd lookup "k 1+é/x=y&z" | grep -q '^k 1+é/x=y&z 1000 '
    s3d odd lookup "nope" "k 1+" | grep -q '^k 1+é/x=y&z '
    s3d odd download "k 1+é/x=y&z" "$TMP/out" >/dev/null
    cmp "$TMP/a" "$TMP/out"
}

s3_empty_archive() {
    : >"$TMP/empty"
    s3d empty upload e "$TMP/empty"
    s3d empty download e "$TMP/out" | grep -q '^e 0 '
    [ ! -s "$TMP/out" ]
}

s3_list_pages_and_foreign_objects() {
    randfile "$TMP/a" 10
    for i in 1 2 3 4 5 6 7; do
        s3d pages upload "k$i" "$TMP/a" &
    done
    wait
    # objects that are not entries: another suffix, and outside the prefix
    curl -fsS -X PUT --data-binary @"$TMP/a" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
        "http://127.0.0.1:$s3port/bk/pages/notes.txt" >/dev/null || true
    proxy_reset "$S3P"
    [ "$(s3d pages -o list-page=2 list | wc -l)" -eq 7 ]
    [ "$(count_log "$S3P" GET 'list-type=2.*continuation-token=')" -eq 3 ]
    s3d pages -o list-page=2 lookup zz k | grep -q '^k[1-7] 10 '
}

s3_signature_and_token_checked() {
    randfile "$TMP/a" 10
    expect_rc 5 env AWS_SECRET_ACCESS_KEY=wrong "$DRIVER" -p s3 -s s3://bk/sig \
        -o "endpoint=http://127.0.0.1:$S3P" upload k "$TMP/a"
    expect_rc 5 env -u AWS_SESSION_TOKEN "$DRIVER" -p s3 -s s3://bk/sig \
        -o "endpoint=http://127.0.0.1:$S3P" upload k "$TMP/a"
    # an expired session token is 'denied', not a generic error
    fault "$S3P" '{"match":"/sig/","status":400,"code":"ExpiredToken","times":1}'
    expect_rc 5 s3d sig upload k "$TMP/a"
    # the secret never reaches a message
    s3d sig lookup missing-bucket 2>&1 | grep -q "$AWS_SECRET_ACCESS_KEY" && return 1
    "$DRIVER" -p s3 -s s3://nobucket/x -o "endpoint=http://127.0.0.1:$S3P" lookup a b 2>"$TMP/err" && return 1
    grep -q NoSuchBucket "$TMP/err"
}

s3_multipart_parallel_and_ranged() {
    proxy_reset "$S3P"
    randfile "$TMP/big" 13000000
    s3d mp upload big "$TMP/big"
    [ "$(count_log "$S3P" POST 'big.tar.zst\?uploads')" -eq 1 ]
    [ "$(count_log "$S3P" PUT 'partNumber=[123]&uploadId=')" -eq 3 ]
    [ "$(count_log "$S3P" POST 'uploadId=')" -eq 1 ]
    s3d mp download big "$TMP/out" | grep -q '^big 13000000 '
    cmp "$TMP/big" "$TMP/out"
    [ "$(proxy_log "$S3P" | grep -o '"range":"bytes=[0-9]*-[0-9]*"' | wc -l)" -eq 3 ]
    # every range is pinned to the version the HEAD saw
    [ "$(proxy_log "$S3P" | grep -o '"ifMatch":"\\"[0-9a-f-]*\\""' | wc -l)" -eq 3 ]
    # a version that changed under a download fails it (never splices two)
    fault "$S3P" '{"method":"GET","match":"mp/big","status":412,"code":"PreconditionFailed","times":1}'
    expect_rc 1 s3d mp download big "$TMP/out"
}

s3_part_retried_after_slowdown() {
    randfile "$TMP/big" 11000000
    proxy_reset "$S3P"
    fault "$S3P" '{"method":"PUT","match":"partNumber=2&","status":503,"code":"SlowDown","retryAfter":"1","times":1}'
    s3d retry upload big "$TMP/big"
    [ "$(count_log "$S3P" PUT 'partNumber=2&')" -eq 2 ]
    [ "$(count_log "$S3P" PUT 'partNumber=1&')" -eq 1 ]
    s3d retry download big "$TMP/out" >/dev/null
    cmp "$TMP/big" "$TMP/out"
}

s3_failed_multipart_is_aborted() {
    randfile "$TMP/big" 11000000
    proxy_reset "$S3P"
    fault "$S3P" '{"method":"PUT","match":"partNumber=3&","status":500}'
    expect_rc 4 s3d abort upload big "$TMP/big"
    [ "$(count_log "$S3P" DELETE 'big.tar.zst\?uploadId=')" -eq 1 ]
    expect_rc 3 s3d abort lookup big
    proxy_reset "$S3P"
}

s3_cut_download_resumes() {
    randfile "$TMP/big" 12000000
    s3d cut upload big "$TMP/big"
    proxy_reset "$S3P"
    fault "$S3P" '{"method":"GET","match":"cut/big","cut":1000000,"times":2}'
    s3d cut download big "$TMP/out" >/dev/null
    cmp "$TMP/big" "$TMP/out"
    # the cut ranges were asked for again from a later offset, not from 0
    proxy_log "$S3P" | grep -q '"range":"bytes=[1-9][0-9]*-'
    [ "$(count_log "$S3P" GET 'cut/big')" -ge 5 ]
}

s3_transient_errors_reach_core() {
    randfile "$TMP/a" 1000
    s3d tr upload k "$TMP/a"
    fault "$S3P" '{"method":"HEAD","match":"/tr/","status":503,"code":"SlowDown","retryAfter":"2","times":1}'
    expect_rc 4 s3d tr lookup k
    s3d tr lookup k >/dev/null
    fault "$S3P" '{"method":"PUT","match":"/tr/","status":500,"times":1}'
    expect_rc 4 s3d tr upload k "$TMP/a"
    fault "$S3P" '{"method":"GET","match":"list-type","status":429,"retryAfter":"1","times":1}'
    expect_rc 4 s3d tr lookup zz k
}

# Two runners saving one key at once must both succeed and leave one whole
# entry. S3 replaces objects atomically; s3rver writes them in place, so two
# different bodies would interleave on its disk: the racing saves carry the
# same archive (as two runners with the same key normally do), multipart
# and single PUT alike, next to a third saving another key.
s3_concurrent_saves_of_one_key() {
    randfile "$TMP/c1" 9000000
    randfile "$TMP/c2" 3000000
    for f in c1 c2; do
        s3d conc upload "same-$f" "$TMP/$f" &
        p1=$!
        s3d conc upload "same-$f" "$TMP/$f" &
        p2=$!
        s3d conc upload "other-$f" "$TMP/c2" &
        p3=$!
        wait $p1
        wait $p2
        wait $p3
        s3d conc download "same-$f" "$TMP/out" >/dev/null
        cmp "$TMP/$f" "$TMP/out"
    done
    [ "$(s3d conc list | wc -l)" -eq 4 ]
}

run_s3_suite() {
    t "s3: round trip, exact key, restore keys, list, remove" s3_round_trip_and_restore_keys
    t "s3: keys with spaces, slashes and UTF-8" s3_keys_with_odd_characters
    t "s3: empty archive" s3_empty_archive
    t "s3: SigV4 and session token verified, denied cases" s3_signature_and_token_checked
    t "s3: multipart upload and ranged parallel download" s3_multipart_parallel_and_ranged
    t "s3: a part hit by 503 SlowDown is retried alone" s3_part_retried_after_slowdown
    t "s3: a failed multipart upload is aborted" s3_failed_multipart_is_aborted
    t "s3: a cut download resumes from the last byte" s3_cut_download_resumes
    t "s3: 503/500/429 are transient for core to retry" s3_transient_errors_reach_core
    t "s3: two saves of one key at once" s3_concurrent_saves_of_one_key
    t "s3: listing follows continuation tokens" s3_list_pages_and_foreign_objects
}
