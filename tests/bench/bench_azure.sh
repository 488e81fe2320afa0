#!/bin/sh
# bench_azure.sh - upload throughput and memory of the Azure provider.
#
# Streams a sparse file of BENCH_AZURE_SIZE (default 1G; the spec's 5G works
# too) through the provider's chunked file-container upload against the
# loopback emulator (which keeps only a running SHA-256, config hashOnly),
# once per chunk size (4M, 8M, 24M). Prints seconds, MB/s and the driver's
# peak RSS, and checks the SHA-256 the emulator computed against the file:
# a peak RSS near the chunk size (not the file size) shows the client never
# buffers the whole archive. Needs node; builds tests/azure's driver.
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
size=${BENCH_AZURE_SIZE:-1G}
make -C "$root" -s build/tests/azure-driver >/dev/null
driver=$root/build/tests/azure-driver
tmp=$(mktemp -d)
node "$root/tests/emulators/azure/server.js" >"$tmp/emu.out" 2>&1 &
emu=$!
trap 'kill $emu 2>/dev/null; rm -rf "$tmp"' EXIT
i=0; while [ $i -lt 50 ] && ! grep -q PORT= "$tmp/emu.out"; do sleep 0.1; i=$((i + 1)); done
E=http://127.0.0.1:$(sed -n 's/PORT=//p' "$tmp/emu.out")
ctl() { curl -sf -X POST "$E/_emulator/$1" -d "$2" >/dev/null; }

truncate -s "$size" "$tmp/big"
head -c 4194304 /dev/urandom | dd of="$tmp/big" conv=notrunc status=none
bytes=$(stat -c %s "$tmp/big")
want=$(sha256sum "$tmp/big" | cut -d' ' -f1)
export SYSTEM_COLLECTIONURI="$E/bench/" SYSTEM_TEAMPROJECTID=6ce954b1-ce1f-45d1-b94d-e6bf2464ba2c
export SYSTEM_DEFINITIONID=1 SYSTEM_ACCESSTOKEN=test-token BUILD_SOURCEBRANCH=refs/heads/main

printf '%-8s %10s %10s %12s %s\n' chunk seconds MB/s "peak RSS" sha256
id=1
for chunk in 4M 8M 24M; do
  ctl reset '{}'
  ctl config '{"hashOnly":true}'
  ctl build "{\"id\":$id,\"definition\":1,\"status\":\"inProgress\",\"result\":null}"
  BUILD_BUILDID=$id BUILD_CONTAINERID=$((1000 + id)) /usr/bin/time -f '%e %M' -o "$tmp/time" \
    "$driver" -o chunk-size=$chunk upload "bench-$chunk" "$tmp/big" 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }
  read -r secs rss_kb <"$tmp/time"
  got=$(curl -sf "$E/_emulator/state" | node -e "
    const s=JSON.parse(require('fs').readFileSync(0,'utf8'));
    console.log((s.containers['$((1000 + id))'].find(i=>i.itemType==='file')||{}).sha256||'')")
  ok=ok; [ "$got" = "$want" ] || ok="MISMATCH"
  printf '%-8s %10s %10s %9s MiB %s\n' "$chunk" "$secs" \
    "$(awk -v b="$bytes" -v s="$secs" 'BEGIN{printf "%.0f", (s > 0 ? b / s / 1e6 : 0)}')" \
    "$((rss_kb / 1024))" "$ok"
  [ "$ok" = ok ] || exit 1
  id=$((id + 1))
done
