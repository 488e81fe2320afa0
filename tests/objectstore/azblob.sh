# azblob.sh - the azblob provider against Azurite (which checks Shared Key
# and SAS itself) behind the fault proxy (port $AZP), through the vtable
# driver. Sourced by run.sh.

AZ_ACCOUNT=devstoreaccount1
# Azurite's published development key
AZ_KEY='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

start_azurite() {
    azport=$(node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); });')
    start_server "$TMP/azurite.log" node "$HERE/node_modules/azurite/dist/src/blob/main.js" \
        --blobHost 127.0.0.1 --blobPort "$azport" --location "$TMP/azurite" \
        --skipApiVersionCheck --disableTelemetry --silent
    server_port azurite "$TMP/azurite.log" >/dev/null || return 1
    start_server "$TMP/proxy-az.log" node "$PROXY" --upstream "http://127.0.0.1:$azport"
    AZP=$(server_port faultproxy-az "$TMP/proxy-az.log") || return 1
}

# azd PREFIX COMMAND ARGS: the driver on azblob://devstoreaccount1/bkc/PREFIX with
# the account key.
azd() {
    p=$1
    shift
    AZURE_STORAGE_KEY=$AZ_KEY "$DRIVER" -p azblob -s "azblob://$AZ_ACCOUNT/bkc/$p" \
        -o "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" -o block-size=1M "$@"
}

az_round_trip_and_restore_keys() {
    randfile "$TMP/a" 100000
    randfile "$TMP/b" 3500000
    proxy_reset "$AZP"
    azd rt upload "go-linux-aaa" "$TMP/a" # also creates the container
    [ "$(count_log "$AZP" PUT 'restype=container')" -eq 1 ]
    sleep 1.1 # Last-Modified has one-second resolution
    azd rt upload "go-linux-bbb" "$TMP/b"
    [ "$(count_log "$AZP" PUT 'go-linux-bbb.tar.zst\?comp=block&')" -eq 4 ]
    [ "$(count_log "$AZP" PUT 'go-linux-bbb.tar.zst\?comp=blocklist')" -eq 1 ]
    azd rt upload "other-ccc" "$TMP/a"
    azd rt lookup go-linux-aaa go-linux- | grep -q '^go-linux-aaa 100000 '
    azd rt lookup go-linux-zzz nomatch- go-linux- | grep -q '^go-linux-bbb 3500000 '
    azd rt download go-linux-zzz "$TMP/out" go- >/dev/null
    cmp "$TMP/b" "$TMP/out"
    [ "$(proxy_log "$AZP" | grep -o '"range":"bytes=[0-9]*-[0-9]*"' | wc -l)" -ge 4 ]
    expect_rc 3 azd rt lookup go-windows-x go-windows-
    [ "$(azd rt list | wc -l)" -eq 3 ]
    azd rt remove go-linux-bbb
    [ "$(azd rt list | wc -l)" -eq 2 ]
    expect_rc 3 azd elsewhere lookup go-linux-aaa go-
    # odd characters survive the URL and the Shared Key resource string
    azd rt upload "k 1+é/x=y&z" "$TMP/a"
    azd rt lookup zz "k 1+" | grep -q '^k 1+é/x=y&z 100000 '
}

az_connection_string_and_sas() {
    randfile "$TMP/a" 1500000
    conn="DefaultEndpointsProtocol=http;AccountName=$AZ_ACCOUNT;AccountKey=$AZ_KEY;BlobEndpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT;"
    AZURE_STORAGE_CONNECTION_STRING=$conn "$DRIVER" -p azblob \
        -s "azblob://$AZ_ACCOUNT/bkc/conn" -o block-size=1M upload k "$TMP/a"
    sas=$(node "$HERE/azsas.js" "$AZ_ACCOUNT" "$AZ_KEY" "$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)")
    AZURE_STORAGE_SAS_TOKEN="?$sas" "$DRIVER" -p azblob -s "azblob://$AZ_ACCOUNT/bkc/conn" \
        -o "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" -o block-size=1M download k "$TMP/out" >/dev/null
    cmp "$TMP/a" "$TMP/out"
    AZURE_STORAGE_SAS_TOKEN="$sas" "$DRIVER" -p azblob -s "azblob://$AZ_ACCOUNT/bkc/sas" \
        -o "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" -o block-size=1M upload k2 "$TMP/a"
    AZURE_STORAGE_SAS_TOKEN="$sas" "$DRIVER" -p azblob -s "azblob://$AZ_ACCOUNT/bkc/sas" \
        -o "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" lookup zz k | grep -q '^k2 1500000 '
    # an expired SAS and a wrong key are 'denied', and no secret is printed
    old=$(node "$HERE/azsas.js" "$AZ_ACCOUNT" "$AZ_KEY" "2020-01-01T00:00:00Z")
    expect_rc 5 env AZURE_STORAGE_SAS_TOKEN="$old" "$DRIVER" -p azblob \
        -s "azblob://$AZ_ACCOUNT/bkc/sas" -o "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" lookup k2
    expect_rc 5 env AZURE_STORAGE_KEY="$(printf 'x%.0s' $(seq 64))==" "$DRIVER" -p azblob \
        -s "azblob://$AZ_ACCOUNT/bkc/sas" -o "endpoint=http://127.0.0.1:$AZP/$AZ_ACCOUNT" \
        upload k3 "$TMP/a" 2>"$TMP/err"
    ! grep -q "$AZ_KEY" "$TMP/err"
}

az_block_retried_after_server_busy() {
    randfile "$TMP/b" 3500000
    proxy_reset "$AZP"
    fault "$AZP" '{"method":"PUT","match":"comp=block&","status":503,"code":"ServerBusy","azure":true,"retryAfter":"1","times":1}'
    azd busy upload big "$TMP/b"
    [ "$(count_log "$AZP" PUT 'comp=block&')" -eq 5 ]
    azd busy download big "$TMP/out" >/dev/null
    cmp "$TMP/b" "$TMP/out"
}

az_cut_download_resumes() {
    randfile "$TMP/b" 3500000
    azd cut upload big "$TMP/b"
    proxy_reset "$AZP"
    fault "$AZP" '{"method":"GET","match":"cut/big","cut":300000,"times":2}'
    azd cut download big "$TMP/out" >/dev/null
    cmp "$TMP/b" "$TMP/out"
    proxy_log "$AZP" | grep -q '"range":"bytes=[1-9][0-9]*-'
}

az_transient_errors_reach_core() {
    randfile "$TMP/a" 1000
    azd tr upload k "$TMP/a"
    fault "$AZP" '{"method":"HEAD","match":"/tr/","status":503,"azure":true,"code":"ServerBusy","times":1}'
    expect_rc 4 azd tr lookup k
    fault "$AZP" '{"method":"GET","match":"comp=list","status":429,"retryAfter":"1","times":1}'
    expect_rc 4 azd tr lookup zz k
    fault "$AZP" '{"method":"PUT","match":"/tr/","status":500,"azure":true,"times":10}'
    expect_rc 4 azd tr -o parallel=1 upload k "$TMP/a"
    proxy_reset "$AZP"
    azd tr lookup k >/dev/null
}

az_concurrent_saves_of_one_key() {
    randfile "$TMP/c1" 3000000
    randfile "$TMP/c2" 3000000
    azd conc upload same "$TMP/c1" &
    p1=$!
    azd conc upload same "$TMP/c2" &
    p2=$!
    wait $p1
    wait $p2
    [ "$(azd conc list | wc -l)" -eq 1 ]
    azd conc download same "$TMP/out" >/dev/null
    cmp -s "$TMP/c1" "$TMP/out" || cmp -s "$TMP/c2" "$TMP/out"
}

az_list_pages() {
    randfile "$TMP/a" 10
    for i in 1 2 3 4 5; do
        azd pages upload "k$i" "$TMP/a" &
    done
    wait
    proxy_reset "$AZP"
    [ "$(azd pages -o list-page=2 list | wc -l)" -eq 5 ]
    [ "$(count_log "$AZP" GET 'comp=list.*marker=')" -eq 2 ]
}

run_azblob_suite() {
    t "azblob: round trip, blocks, restore keys, list, remove" az_round_trip_and_restore_keys
    t "azblob: connection string, SAS, expired SAS, wrong key" az_connection_string_and_sas
    t "azblob: a block hit by 503 ServerBusy is retried alone" az_block_retried_after_server_busy
    t "azblob: a cut download resumes from the last byte" az_cut_download_resumes
    t "azblob: 503/429/500 are transient for core to retry" az_transient_errors_reach_core
    t "azblob: two saves of one key at once" az_concurrent_saves_of_one_key
    t "azblob: listing follows markers" az_list_pages
}
