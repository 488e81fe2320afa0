#!/bin/sh
# gen_dockerfile.sh LINES - print a Dockerfile of about LINES lines for the
# key benchmark: global ARGs, 20 chained stages (FROM <previous stage>) with
# ENV, ARG, WORKDIR, multi-line cache-mount RUNs, COPY --from, comments,
# blank lines and heredocs, so every stage of the last target's closure is
# walked and serialized.
set -eu
want=${1:-5000}
per_stage=$((want / 20))
echo "# syntax=docker/dockerfile:1"
echo "ARG BASE=debian:bookworm-slim"
echo "ARG VERSION=1.0"
s=0
while [ $s -lt 20 ]; do
  if [ $s -eq 0 ]; then echo "FROM \${BASE} AS s0"; else echo "FROM s$((s - 1)) AS s$s"; fi
  echo "ARG VERSION"
  echo "ENV STAGE=s$s HOME=/home/u$s"
  echo "WORKDIR /src/s$s"
  n=4
  while [ $n -lt $per_stage ]; do
    case $((n % 10)) in
      0) echo "# step $n of stage $s"; n=$((n + 1)) ;;
      1) echo ""; n=$((n + 1)) ;;
      2) echo "RUN --mount=type=cache,id=c$((n % 7))-\${VERSION},target=\$HOME/.cache,sharing=locked \\"
         echo "    --mount=type=cache,target=rel$((n % 5)),uid=1000,gid=1000 \\"
         echo "    make -j4 step$n && \\"
         echo "    echo done"; n=$((n + 4)) ;;
      6) if [ $s -gt 0 ]; then from=s0; else from=busybox; fi
         echo "COPY --from=$from /etc/os-release /tmp/x$n"; n=$((n + 1)) ;;
      7) echo "COPY <<EOF /etc/conf$n"; echo "key=$n"; echo "EOF"; n=$((n + 3)) ;;
      *) echo "ENV V$n=\"value $n\" W$n=\${STAGE}-$n"; n=$((n + 1)) ;;
    esac
  done
  s=$((s + 1))
done
