#!/bin/sh
# build-libs.sh ARCH - the static libraries bkcache links, for musl, built
# from Debian's source packages, in a prefix kept between runs.
#
#   ARCH   amd64 (musl-gcc from musl-tools) or arm64 (musl itself is built
#          from Debian's musl source with gcc-aarch64-linux-gnu)
#
# Prints the prefix on stdout (everything else goes to stderr):
#   $BKCACHE_RELEASE_CACHE/<arch>-<key>/{bin/cc,include,lib}
# bin/cc is the compiler to use (musl-gcc plus the kernel headers);
# <key> hashes the source package versions, this script and the compiler
# version, so a new Debian security upload or a change here rebuilds, and
# an unchanged second run only prints the prefix.
#
# Only what bkcache uses is built: OpenSSL's libcrypto and libssl (no
# apps, engines or modules), libcurl for HTTP(S) alone (OpenSSL, threaded
# resolver, no compression or other protocols), zstd with multithreading,
# libarchive with the tar formats and xattrs (bkcache does compression
# itself), cJSON and libyaml.
set -eu
arch=${1:?usage: build-libs.sh amd64|arm64}
here=$(cd "$(dirname "$0")" && pwd)
cache=${BKCACHE_RELEASE_CACHE:-/var/cache/bkcache-release}
jobs=${JOBS:-2}
pkgs="openssl curl libzstd libarchive cjson libyaml"

case "$arch" in
amd64) gcc=gcc; host=x86_64-linux-musl; ossl=linux-x86_64
  kinc=/usr/include; kasm=/usr/include/x86_64-linux-gnu/asm ;;
arm64) gcc=aarch64-linux-gnu-gcc; host=aarch64-linux-musl; ossl=linux-aarch64
  kinc=/usr/aarch64-linux-gnu/include; kasm=$kinc/asm; pkgs="$pkgs musl" ;;
*) echo "build-libs: unknown arch $arch (amd64 or arm64)" >&2; exit 2 ;;
esac

log() { echo "release-libs[$arch]: $*" >&"${logfd:-2}"; }
src=$cache/src
mkdir -p "$src"

# fetch: unpack (and patch) Debian's source once per version, in $src. The
# newest version apt lists is tried first; one the mirror cannot serve is
# marked and skipped, and the next older one is used.
dirs=""
for pkg in $pkgs; do
  got=""
  for ver in $(apt-cache showsrc --only-source "$pkg" 2>/dev/null | awk '/^Version:/ { print $2 }' |
    sort -u | sort -r -V); do
    name=${pkg}_$ver
    [ -f "$src/$name.unavailable" ] && continue
    if ! [ -f "$src/$name/.unpacked" ]; then
      log "fetching source $name"
      rm -rf "$src/$name" "$src/$name.tmp"
      mkdir -p "$src/$name.tmp"
      if ! (cd "$src/$name.tmp" && apt-get source -qq "$pkg=$ver" >/dev/null 2>&1); then
        log "source $name cannot be fetched; trying an older one"
        rm -rf "$src/$name.tmp"
        touch "$src/$name.unavailable"
        continue
      fi
      d=$(find "$src/$name.tmp" -mindepth 1 -maxdepth 1 -type d | head -1)
      mv "$d" "$src/$name"
      rm -rf "$src/$name.tmp"
      touch "$src/$name/.unpacked"
    fi
    got=$name
    break
  done
  if [ -z "$got" ]; then
    echo "build-libs: cannot fetch Debian's source of $pkg (is there a deb-src entry? see scripts/release/apt-sources.sh)" >&2
    exit 1
  fi
  dirs="$dirs $got"
done

key=$( { echo "$dirs"; cat "$0"; $gcc -dumpfullversion; dpkg-query -W -f='${Version}\n' musl-dev 2>/dev/null; } |
  sha256sum | cut -c1-16)
prefix=$cache/$arch-$key
if [ -f "$prefix/.done" ]; then
  echo "$prefix"
  exit 0
fi
work=$cache/build-$arch-$$
mkdir -p "$work" "$prefix/bin" "$prefix/include" "$prefix/lib"
# The builds' own output goes to $prefix/build.log; its end is shown when
# a step fails. log() writes to the original stderr (fd 3), the prefix
# goes to the original stdout (fd 4).
exec 4>&1 3>&2 >>"$prefix/build.log" 2>&1
logfd=3
trap 'rc=$?; rm -rf "$work"; if [ $rc -ne 0 ]; then tail -40 "$prefix/build.log" >&3;
  echo "build-libs: failed (rc $rc); the log is $prefix/build.log" >&3; fi' EXIT

srcdir() { for d in $dirs; do case "$d" in "$1"_*) echo "$src/$d"; return ;; esac; done; }
# each library builds in a throwaway copy, so the unpacked source stays clean
copy() { rm -rf "$work/$1"; cp -a "$(srcdir "$1")" "$work/$1"; cd "$work/$1"; }

# the compiler: musl-gcc, plus the kernel's headers (linux/, asm/) that
# musl does not carry, which OpenSSL and libarchive include.
mkdir -p "$prefix/kinc"
ln -sfn "$kinc/linux" "$prefix/kinc/linux"
ln -sfn "$kinc/asm-generic" "$prefix/kinc/asm-generic"
ln -sfn "$kasm" "$prefix/kinc/asm"
if [ "$arch" = arm64 ]; then
  log "building musl"
  copy musl
  ./configure -q --prefix="$prefix/musl" --target=aarch64-linux-gnu CROSS_COMPILE=aarch64-linux-gnu- \
    CC=aarch64-linux-gnu-gcc --disable-shared
  make -s -j"$jobs" && make -s install
  musl=$prefix/musl/bin/musl-gcc
  cross="--host=$host"
  tools=aarch64-linux-gnu-
else
  musl=musl-gcc
  cross=""
  tools=""
fi
cat >"$prefix/bin/cc" <<CC
#!/bin/sh
exec $musl "\$@" -idirafter $prefix/kinc
CC
chmod +x "$prefix/bin/cc"
export CC="$prefix/bin/cc" AR=${tools}ar RANLIB=${tools}ranlib
export CFLAGS="-O2 -fPIC -ffunction-sections -fdata-sections" CPPFLAGS="-I$prefix/include" LDFLAGS="-L$prefix/lib"
export PKG_CONFIG_PATH="$prefix/lib/pkgconfig" PKG_CONFIG_LIBDIR="$prefix/lib/pkgconfig"
# a library already built by an interrupted run is not built again
step() { if [ -f "$prefix/.step-$1" ]; then return 1; fi; log "building $1"; }
stamp() { touch "$prefix/.step-$1"; }
conf() { ./configure -q $cross --prefix="$prefix" --libdir="$prefix/lib" --disable-shared --enable-static "$@"; }

if step openssl; then
copy openssl
./Configure "$ossl" --prefix="$prefix" --libdir=lib --openssldir=/etc/ssl \
  no-shared no-tests no-module no-legacy no-engine no-dso no-afalgeng \
  no-comp no-ssl3 no-srp no-ui-console
make -s -j"$jobs" build_libs
make -s install_dev

stamp openssl
fi

if step zstd; then
copy libzstd
make -s -j"$jobs" -C lib libzstd.a CPPFLAGS="-DZSTD_MULTITHREAD -DZSTD_LEGACY_SUPPORT=0"
cp lib/libzstd.a "$prefix/lib/"
cp lib/zstd.h lib/zdict.h lib/zstd_errors.h "$prefix/include/"

stamp zstd
fi

if step cJSON; then
copy cjson
mkdir -p "$prefix/include/cjson"
$CC $CFLAGS -std=c89 -c cJSON.c -o cJSON.o
$AR rcs "$prefix/lib/libcjson.a" cJSON.o
cp cJSON.h "$prefix/include/cjson/"

stamp cJSON
fi

if step libyaml; then
copy libyaml
# Debian's source has no configure script; the library needs none.
v=$(sed -n 's/^m4_define(\[YAML_\(MAJOR\|MINOR\|PATCH\)\], \([0-9]*\)).*/\2/p' configure.ac | tr '\n' ' ')
set -- $v
for c in src/*.c; do
  $CC $CFLAGS -Iinclude -DYAML_VERSION_MAJOR=$1 -DYAML_VERSION_MINOR=$2 -DYAML_VERSION_PATCH=$3 \
    -DYAML_VERSION_STRING="\"$1.$2.$3\"" -c "$c" -o "${c%.c}.o"
done
$AR rcs "$prefix/lib/libyaml.a" src/*.o
cp include/yaml.h "$prefix/include/"

stamp libyaml
fi

if step libarchive; then
copy libarchive
autoreconf -fi >/dev/null 2>&1
conf --disable-bsdtar --disable-bsdcpio --disable-bsdcat --disable-acl --enable-xattr \
  --without-zlib --without-bz2lib --without-libb2 --without-iconv --without-lz4 --without-zstd \
  --without-lzma --without-cng --without-openssl --without-xml2 --without-expat --without-mbedtls \
  --without-nettle
make -s -j"$jobs" libarchive.la
cp .libs/libarchive.a "$prefix/lib/"
cp libarchive/archive.h libarchive/archive_entry.h "$prefix/include/"

stamp libarchive
fi

if step curl; then
copy curl
# Debian's last two patches turn the source into its GnuTLS and NSS
# flavours; its OpenSSL build reverses them, and so does this one.
for p in 99_nss 90_gnutls; do patch -s -R -p1 <debian/patches/$p.patch; done
autoreconf -fi >/dev/null 2>&1
conf --with-openssl="$prefix" --enable-threaded-resolver --enable-ipv6 --without-zlib --without-brotli \
  --without-zstd --without-libpsl --without-libidn2 --without-nghttp2 --without-nghttp3 --without-ngtcp2 \
  --without-librtmp --without-libssh2 --without-libgsasl --disable-ldap --disable-ldaps --disable-rtsp \
  --disable-dict --disable-telnet --disable-tftp --disable-pop3 --disable-imap --disable-smb \
  --disable-smtp --disable-gopher --disable-mqtt --disable-ftp --disable-file --disable-manual \
  --disable-ntlm --disable-kerberos-auth --disable-negotiate-auth --disable-aws \
  --without-ca-bundle --without-ca-path --with-ca-fallback
make -s -j"$jobs" -C lib && make -s -C lib install && make -s -C include install

stamp curl
fi

touch "$prefix/.done"
# prefixes of older sources or an older version of this script are stale
for old in "$cache/$arch"-*; do
  [ "$old" = "$prefix" ] || rm -rf "$old"
done
log "done: $prefix"
echo "$prefix" >&4
