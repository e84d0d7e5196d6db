#!/usr/bin/env bash
# bench/image.sh - Martlet Image (Glance v2) data path and listing, against the
# machine's own disk ceilings measured in the same run.
#
# There is no anchor for this one: the reference is the disk itself.  In one run,
# on 127.0.0.1 only:
#   - dd on the filesystem that holds martlet's data dir: sequential write of
#     BENCH_SIZE_MIB with conv=fdatasync, read back warm (page cache), cold
#     (file evicted with posix_fadvise: dd iflag=nocache) and with O_DIRECT;
#     once before the transfers and once after them;
#   - `martlet serve` on a fresh data dir; a project-scoped admin token; an image
#     (raw/bare); PUT of a BENCH_SIZE_MIB file of random bytes to
#     /image/v2/images/ID/file with curl (time, MB/s); GET back to /dev/null,
#     first with the image's file evicted from the page cache (cold), then warm;
#     a third GET piped into md5sum/sha512sum, checked against the image's
#     checksum / os_hash_value, Content-MD5 and the source file;
#   - the server's RSS, sampled every BENCH_RSS_INTERVAL s from /proc/PID/statm
#     during each transfer (plus the kernel's exact peak, VmHWM, reset before
#     each transfer through /proc/PID/clear_refs): idle before, peak, growth;
#   - BENCH_IMAGES images created with bench/lib/image-fill.py (a thread pool of
#     keep-alive connections; every 10th tagged "bench", every 4th qcow2), then
#     wrk --latency on GET /image/v2/images?limit=25 unfiltered, with tag=bench,
#     with disk_format=qcow2, and a page from the middle (marker);
# and prints a table against the targets of issue 3: upload and download at
# least 80% of dd's write / read throughput, RSS growth under 64 MB during a
# transfer, p99 under 20 ms per page of 25 with a filter over 5,000 images.
# Results (JSON, summary.txt, RSS samples, wrk output, server log) go to a
# temporary directory printed at the end; nothing is written into the repository
# except the build folder.
#
# Environment (all optional):
#   BENCH_SIZE_MIB=1024        image size (and dd size), MiB
#   BENCH_DD_PASSES=2          dd passes: 1 = before the transfers only, 2 = before and after
#   BENCH_RSS_INTERVAL=0.05    RSS sampling period, seconds
#   BENCH_IDLE_WAIT=2          seconds of quiet before each "idle RSS" reading
#   BENCH_IMAGES=5000          images created for the listing phase
#   BENCH_CREATE_CONCURRENCY=8 parallel keep-alive connections creating them
#   BENCH_LIST_SECONDS=10      wrk duration per listing load   BENCH_WARMUP=2  untimed wrk warm-up (0: none)
#   BENCH_LIST_THREADS=1 BENCH_LIST_CONNECTIONS=1   wrk -t/-c for the listing loads (1/1: latency of one client)
#   BENCH_WRK_TIMEOUT=10s      wrk --timeout
#   BENCH_LIST_LOADS="first tag disk_format marker"
#   BENCH_SKIP_TRANSFER=1 / BENCH_SKIP_LIST=1   skip a phase
#   BENCH_BCRYPT_COST=4        martlet --bcrypt-cost
#   BENCH_SKIP_BUILD=1         do not build; use the existing binary
#   BENCH_BUILD_DIR=.build-static   SwiftPM scratch path (relative to the repo root or absolute);
#                              the binary is BENCH_BUILD_DIR/release/martlet
#   BENCH_MARTLET_BIN=PATH     use this binary (implies no build)
#   BENCH_PORT                 loopback port (default: a free random port)
#   BENCH_ADMIN_PASSWORD       (default bench-admin-pw)
#   BENCH_TMPDIR=/tmp          where the data dir, the source file and the dd file go
#                              (one filesystem: that is the disk being measured)
#   BENCH_OUT=DIR              results directory (default: a new mktemp -d under /tmp)
#   BENCH_KEEP_DATA=1          keep martlet's temporary data dir (the big files are removed anyway)
#
# Exit status: 0 the run completed (whether or not the targets are met);
# 1 setup failure; 2 completed, but something was flagged (a non-2xx answer, a
# checksum mismatch, a measurement missing, non-2xx responses under wrk, ...).
set -euo pipefail
export LC_ALL=C

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
LIB=$REPO/bench/lib
. "$LIB/common.sh"

SIZE_MIB=${BENCH_SIZE_MIB:-1024}
DD_PASSES=${BENCH_DD_PASSES:-2}
RSS_INTERVAL=${BENCH_RSS_INTERVAL:-0.05}
IDLE_WAIT=${BENCH_IDLE_WAIT:-2}
NIMAGES=${BENCH_IMAGES:-5000}
CREATE_CONC=${BENCH_CREATE_CONCURRENCY:-8}
LIST_SECONDS=${BENCH_LIST_SECONDS:-10}
WARMUP=${BENCH_WARMUP:-2}
LTHREADS=${BENCH_LIST_THREADS:-1}
LCONNS=${BENCH_LIST_CONNECTIONS:-1}
WRK_TIMEOUT=${BENCH_WRK_TIMEOUT:-10s}
LIST_LOADS=${BENCH_LIST_LOADS:-first tag disk_format marker}
martlet_settings

# targets of issue 3
T_FRACTION=0.80           # upload/download >= 80% of dd
T_RSS_GROWTH_MB=64        # peak RSS growth during a transfer < 64 MB (10^6 bytes)
T_LIST_P99_MS=20          # p99 per page of 25 < 20 ms

FLAGS=()                       # problems to repeat at the end

for v in SIZE_MIB DD_PASSES IDLE_WAIT NIMAGES CREATE_CONC LIST_SECONDS WARMUP LTHREADS LCONNS COST; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
[[ "$RSS_INTERVAL" =~ ^[0-9]*\.?[0-9]+$ ]] || die "BENCH_RSS_INTERVAL must be a number of seconds"
[ "$SIZE_MIB" -ge 1 ] && [ "$CREATE_CONC" -ge 1 ] && [ "$LCONNS" -ge "$LTHREADS" ] && [ "$LTHREADS" -ge 1 ] \
  || die "BENCH_SIZE_MIB and BENCH_CREATE_CONCURRENCY must be >= 1, BENCH_LIST_CONNECTIONS >= BENCH_LIST_THREADS >= 1"

# ---- results: key/type/value lines, turned into nested JSON at the end -----
bench_dirs image

# ---- small helpers ---------------------------------------------------------
mbps() { awk -v b="$1" -v s="$2" 'BEGIN { if (s > 0) printf "%.1f", b / s / 1e6 }'; }   # bytes, seconds -> MB/s




# ---- cleanup ---------------------------------------------------------------
MPID=""; MDATA=""; WORK=""; SAMPLER=""
cleanup() {
  set +e
  sampler_stop
  [ -n "$MPID" ] && martlet_stop
  [ -z "$WORK" ] || rm -rf "$WORK"
  if [ -n "$MDATA" ]; then
    if [ "${BENCH_KEEP_DATA:-0}" = 1 ]; then
      find "$MDATA" -type f -size +100M -delete 2>/dev/null   # keep the database, not the gigabyte
      log "martlet data dir kept: $MDATA"
    else
      rm -rf "$MDATA"
    fi
  fi
}
on_exit cleanup

# ---- tools -----------------------------------------------------------------
need_tools wrk:wrk curl:curl jq:jq ps:procps python3:python3 dd:coreutils

SIZE_BYTES=$((SIZE_MIB * 1048576))
record_host
put params.size_bytes "$SIZE_BYTES"
put params.images "$NIMAGES"
put_s params.wrk "-t$LTHREADS -c$LCONNS -d${LIST_SECONDS}s --latency --timeout $WRK_TIMEOUT (warm-up ${WARMUP}s)"
put_s params.wrk_version "$(wrk -v 2>&1 | head -n 1 | awk '{ print $2 }')"
put_s params.curl_version "$(curl --version | head -n 1 | awk '{ print $2 }')"
put params.rss_interval_s "$RSS_INTERVAL"
put_s results_dir "$OUT"

# ---- the binary ----------------------------------------------------------------
martlet_binary

# ---- scratch space: data dir, source file and dd file on one filesystem --------
MDATA=$(mktemp -d "$TMPBASE/martlet-bench-data.XXXXXX")
WORK=$(mktemp -d "$TMPBASE/martlet-bench-image-work.XXXXXX")
[ "$(stat -c %d "$MDATA")" = "$(stat -c %d "$WORK")" ] || die "data dir and work dir are on different filesystems"
put_s disk.dir "$TMPBASE"
put_s disk.fs "$(df -PT "$TMPBASE" | awk 'NR == 2 { print $2 " on " $1 }')"
avail_kib=$(df -Pk "$TMPBASE" | awk 'NR == 2 { print $4 }')
[ "$avail_kib" -gt $(( SIZE_MIB * 1024 * 3 + 1048576 )) ] \
  || die "not enough room in $TMPBASE: need ~$(( SIZE_MIB * 3 + 1024 )) MiB (source file + image + dd file), have $(( avail_kib / 1024 )) MiB"

# ---- 1. the disk's own throughput ----------------------------------------------
# dd_secs FILE: the seconds dd reported on its last line ("N bytes (...) copied, S s, R MB/s")
dd_secs() { awk -F', ' '/ copied, / { s = $(NF - 1); sub(/ s$/, "", s); print s }' "$1" | tail -n 1; }
evict() { dd if="$1" iflag=nocache count=0 status=none 2>/dev/null; }   # posix_fadvise(DONTNEED): drop FILE from the page cache
cached_pct() {   # share of FILE's pages in the page cache, when fincore is there
  command -v fincore >/dev/null 2>&1 || return 0
  fincore -b -n -o PAGES,SIZE "$1" 2>/dev/null | awk -v ps="$(getconf PAGESIZE)" '{ if ($2 > 0) printf "%.0f", 100 * $1 * ps / $2 }'
}
dd_pass() {  # dd_pass N
  local n=$1 f=$WORK/dd.tmp s c
  local p="disk.pass$n"
  log "disk pass $n: dd write ${SIZE_MIB} MiB conv=fdatasync, then read warm / cold (evicted) / O_DIRECT on $(df -PT "$TMPBASE" | awk 'NR == 2 { print $1 " (" $2 ")" }')"
  dd if=/dev/zero of="$f" bs=1M count="$SIZE_MIB" conv=fdatasync > "$OUT/dd$n-write.txt" 2>&1 || die "dd write failed: $(tail -n 2 "$OUT/dd$n-write.txt")"
  s=$(dd_secs "$OUT/dd$n-write.txt"); put "$p.write_mbps" "$(mbps "$SIZE_BYTES" "$s")"
  dd if="$f" of=/dev/null bs=1M > "$OUT/dd$n-read-warm.txt" 2>&1 || true
  s=$(dd_secs "$OUT/dd$n-read-warm.txt"); [ -z "$s" ] || put "$p.read_warm_mbps" "$(mbps "$SIZE_BYTES" "$s")"
  evict "$f"; c=$(cached_pct "$f")
  [ -z "$c" ] || put "$p.cached_pct_after_evict" "$c"
  if [ -n "$c" ] && [ "$c" -gt 5 ]; then
    log "disk pass $n: eviction left $c% of the file cached: no cold buffered read figure"
  else
    dd if="$f" of=/dev/null bs=1M > "$OUT/dd$n-read-cold.txt" 2>&1 || true
    s=$(dd_secs "$OUT/dd$n-read-cold.txt"); [ -z "$s" ] || put "$p.read_cold_mbps" "$(mbps "$SIZE_BYTES" "$s")"
  fi
  if dd if="$f" of=/dev/null bs=1M iflag=direct > "$OUT/dd$n-read-direct.txt" 2>&1; then
    s=$(dd_secs "$OUT/dd$n-read-direct.txt"); put "$p.read_direct_mbps" "$(mbps "$SIZE_BYTES" "$s")"
  else
    log "disk pass $n: O_DIRECT read not supported here ($(tail -n 1 "$OUT/dd$n-read-direct.txt"))"
  fi
  rm -f "$f"
  log "disk pass $n: write ${R[$p.write_mbps]} MB/s; read warm ${R[$p.read_warm_mbps]:-?}, cold ${R[$p.read_cold_mbps]:-?}, direct ${R[$p.read_direct_mbps]:-?} MB/s"
}
mean_of() {  # mean_of KEY-SUFFIX: mean over the dd passes that have it
  local k vals=""
  for k in $(seq 1 "$DD_PASSES"); do vals+="${R[disk.pass$k.$1]:-} "; done
  tr ' ' '\n' <<< "$vals" | grep . | awk '{ s += $1; n++ } END { if (n) printf "%.1f", s / n }'
}

# ---- martlet -----------------------------------------------------------------
martlet_port
IMG=$BASE/image

martlet_start() { start_martlet /image/versions; }

cpu_ticks_us() { sed 's/.*) //' "/proc/$MPID/stat" 2>/dev/null | awk '{ print $12, $13 }'; }   # utime stime, apart
# watch_start NAME / watch_stop NAME: idle RSS before, peak (rss_sampler, and VmHWM: the kernel's exact
# peak, reset through clear_refs at the start), after
watch_start() {
  nap "$IDLE_WAIT"
  put "rss.$1.idle_before_kib" "$(rss_kib "$MPID")"
  HWM_OK=0; hwm_reset && HWM_OK=1
  rss_sampler "$MPID" > "$OUT/rss-$1.txt" &
  SAMPLER=$!
  W_T0=$EPOCHREALTIME; W_CPU0=$(cpu_ticks_us)
}
watch_stop() {
  local p="rss.$1" peak hwm
  local c1 k v; c1=$(cpu_ticks_us)
  while read -r k v; do put "cpu.$1.$k" "$v"; done < <(awk -v c0="$W_CPU0" -v c1="$c1" -v t0="$W_T0" -v t1="$EPOCHREALTIME" -v hz="$CLK_TCK" \
      'BEGIN { split(c0, a, " "); split(c1, b, " "); w = (t1 - t0) * hz; if (w <= 0) exit
               printf "server_cores %.2f\nserver_user_cores %.2f\nserver_sys_cores %.2f\n", (b[1] + b[2] - a[1] - a[2]) / w, (b[1] - a[1]) / w, (b[2] - a[2]) / w }')
  sampler_stop
  put "$p.samples" "$(wc -l < "$OUT/rss-$1.txt")"
  peak=$(awk 'BEGIN { m = 0 } $2 > m { m = $2 } END { print m }' "$OUT/rss-$1.txt")
  put "$p.peak_sampled_kib" "$peak"
  if [ "$HWM_OK" = 1 ]; then
    hwm=$(hwm_kib); put "$p.peak_hwm_kib" "$hwm"
    [ "$hwm" -gt "$peak" ] && peak=$hwm
  fi
  put "$p.peak_kib" "$peak"
  put "$p.growth_kib" "$(( peak - ${R[$p.idle_before_kib]} ))"
  put "$p.after_kib" "$(rss_kib "$MPID")"
  log "$1: server used ${R[cpu.$1.server_cores]} cores; RSS $1: idle ${R[$p.idle_before_kib]} KiB, peak $peak KiB (sampled ${R[$p.peak_sampled_kib]}, VmHWM ${R[$p.peak_hwm_kib]:-n/a}), growth ${R[$p.growth_kib]} KiB, after ${R[$p.after_kib]} KiB"
}

# ---- 2./3. transfer ------------------------------------------------------------
bench_transfer() {
  local src=$WORK/source.bin t0 t code id w srcmd5 srcsha imgfile c
  log "generating ${SIZE_MIB} MiB of random bytes"
  t0=$EPOCHREALTIME
  if command -v openssl >/dev/null 2>&1 && openssl rand -out "$src" "$SIZE_BYTES" 2>/dev/null; then :; else
    head -c "$SIZE_BYTES" /dev/urandom > "$src"
  fi
  [ "$(stat -c %s "$src")" = "$SIZE_BYTES" ] || die "could not write the $SIZE_MIB MiB source file"
  srcmd5=$(md5sum < "$src" | cut -d' ' -f1)
  srcsha=$(sha512sum < "$src" | cut -d' ' -f1)
  put_s transfer.source_md5 "$srcmd5"
  # the per-byte work the server must do on upload (Glance's too): MD5 and SHA-512 of the
  # data, here with OpenSSL's assembly (swift-crypto's BoringSSL has the same), one core each
  if command -v openssl >/dev/null 2>&1; then
    local alg ta
    for alg in md5 sha512; do
      ta=$EPOCHREALTIME
      openssl dgst -"$alg" "$src" > /dev/null 2>&1 || continue
      put "cpu.hash_${alg}_mbps" "$(mbps "$SIZE_BYTES" "$(awk -v a="$ta" -v b="$EPOCHREALTIME" 'BEGIN { print b - a }')")"
    done
    if [ -n "${R[cpu.hash_md5_mbps]:-}" ] && [ -n "${R[cpu.hash_sha512_mbps]:-}" ]; then
      put cpu.hash_both_one_core_mbps "$(awk -v a="${R[cpu.hash_md5_mbps]}" -v b="${R[cpu.hash_sha512_mbps]}" 'BEGIN { printf "%.1f", 1 / (1 / a + 1 / b) }')"
      log "hashing ceiling (openssl, one core, from the page cache): md5 ${R[cpu.hash_md5_mbps]} MB/s, sha512 ${R[cpu.hash_sha512_mbps]} MB/s, both in turn ${R[cpu.hash_both_one_core_mbps]} MB/s"
    fi
  fi
  log "source file ready in $(awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }') s (md5 $srcmd5); it stays in the page cache for curl"

  code=$(curl -s -o "$OUT/image-create.json" -w '%{http_code}' -X POST -H "X-Auth-Token: $TOK" -H 'Content-Type: application/json' \
         --data-binary '{"name": "bench", "disk_format": "raw", "container_format": "bare"}' "$IMG/v2/images" || echo 000)
  id=$(jq -r '.id // empty' "$OUT/image-create.json" 2>/dev/null || true)
  [ "$code" = 201 ] && [ -n "$id" ] || { flag "image create answered $code ($(head -c 300 "$OUT/image-create.json" | tr '\n' ' ')): no transfer"; return 0; }
  put_s transfer.image_id "$id"

  # upload (Expect: off: curl would otherwise wait up to 1 s for a "100 Continue")
  load_busy upload
  watch_start upload
  log "upload: PUT $SIZE_MIB MiB to /image/v2/images/$id/file"
  w=$(curl -sS -o "$OUT/upload.body" -w '%{http_code} %{time_total} %{speed_upload} %{size_upload}' -T "$src" \
        -H "X-Auth-Token: $TOK" -H 'Content-Type: application/octet-stream' -H 'Expect:' "$IMG/v2/images/$id/file" 2>"$OUT/upload.err" || true)
  watch_stop upload
  read -r code t _ c <<< "$w"
  put transfer.upload.status "${code:-0}"
  if [ "$code" != 204 ] || [ "${c%.*}" != "$SIZE_BYTES" ]; then
    flag "upload answered ${code:-nothing} after sending ${c:-0} bytes ($(head -c 300 "$OUT/upload.body" "$OUT/upload.err" | tr '\n' ' '))"
    return 0
  fi
  put transfer.upload.seconds "$t"
  put transfer.upload.mbps "$(mbps "$SIZE_BYTES" "$t")"
  log "upload: $t s, ${R[transfer.upload.mbps]} MB/s"

  curl -s -o "$OUT/image-active.json" -H "X-Auth-Token: $TOK" "$IMG/v2/images/$id" || true
  put_s transfer.image_status "$(jq -r '.status' "$OUT/image-active.json" 2>/dev/null)"
  put_s transfer.image_checksum "$(jq -r '.checksum' "$OUT/image-active.json" 2>/dev/null)"
  put transfer.image_size "$(jq -r '.size // 0' "$OUT/image-active.json" 2>/dev/null)"
  [ "${R[transfer.image_status]}" = active ] || flag "image status after upload is '${R[transfer.image_status]}', not active"
  [ "${R[transfer.image_size]}" = "$SIZE_BYTES" ] || flag "image size after upload is ${R[transfer.image_size]}, not $SIZE_BYTES"
  [ "${R[transfer.image_checksum]}" = "$srcmd5" ] || flag "image checksum ${R[transfer.image_checksum]} != md5 of the source $srcmd5"
  [ "$(jq -r '.os_hash_value' "$OUT/image-active.json")" = "$srcsha" ] || flag "image os_hash_value != sha512 of the source"

  # download, cold: the image's file evicted from the page cache first
  imgfile=$(find "$MDATA" -type f -name "$id" -size +0 2>/dev/null | head -n 1)
  put_s transfer.image_file "${imgfile:-not found}"
  local cold_ok=0
  if [ -n "$imgfile" ]; then
    evict "$imgfile"; c=$(cached_pct "$imgfile")
    if [ -z "$c" ] || [ "$c" -le 5 ]; then cold_ok=1; else log "download: eviction left $c% of the image file cached"; fi
    put transfer.download_cold.cached_pct_before "${c:-0}"
  else
    log "download: image file not found under the data dir; cannot evict it"
  fi
  local mode
  for mode in download_cold download_warm; do
    [ "$mode" = download_cold ] && [ "$cold_ok" = 0 ] && continue
    load_busy "$mode"
    watch_start "$mode"
    log "$mode: GET /image/v2/images/$id/file > /dev/null"
    w=$(curl -sS -o /dev/null -D "$OUT/$mode.headers" -w '%{http_code} %{time_total} %{speed_download} %{size_download}' \
          -H "X-Auth-Token: $TOK" "$IMG/v2/images/$id/file" 2>"$OUT/$mode.err" || true)
    watch_stop "$mode"
    read -r code t _ c <<< "$w"
    put "transfer.$mode.status" "${code:-0}"
    if [ "$code" != 200 ] || [ "${c%.*}" != "$SIZE_BYTES" ]; then
      flag "$mode answered ${code:-nothing} with ${c:-0} bytes ($(head -c 300 "$OUT/$mode.err" | tr '\n' ' '))"
      continue
    fi
    put "transfer.$mode.seconds" "$t"
    put "transfer.$mode.mbps" "$(mbps "$SIZE_BYTES" "$t")"
    log "$mode: $t s, ${R[transfer.$mode.mbps]} MB/s"
  done

  # verification: one more GET, hashed on the way (no second copy on disk)
  log "verify: GET the image again through md5sum and sha512sum"
  local got
  got=$(curl -sS -D "$OUT/verify.headers" -H "X-Auth-Token: $TOK" "$IMG/v2/images/$id/file" 2>"$OUT/verify.err" \
        | tee >(sha512sum | cut -d' ' -f1 > "$OUT/verify.sha512") | md5sum | cut -d' ' -f1) || true
  for _ in 1 2 3 4 5 6 7 8 9 10; do [ -s "$OUT/verify.sha512" ] && break; nap 0.2; done
  put_s transfer.download_md5 "$got"
  put_s transfer.content_md5 "$(awk 'tolower($1) == "content-md5:" { print $2 }' "$OUT/verify.headers" | tr -d '\r')"
  if [ "$got" = "$srcmd5" ] && [ "$got" = "${R[transfer.image_checksum]}" ] && [ "$(cat "$OUT/verify.sha512")" = "$srcsha" ]; then
    put_s transfer.verified yes
  else
    put_s transfer.verified no
    flag "downloaded data: md5 $got, sha512 $(head -c 16 "$OUT/verify.sha512")…; source md5 $srcmd5; image checksum ${R[transfer.image_checksum]}"
  fi
  [ "${R[transfer.content_md5]}" = "$srcmd5" ] || flag "Content-MD5 '${R[transfer.content_md5]}' != $srcmd5"

  # tidy up: delete the image, which must take its data along
  code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "X-Auth-Token: $TOK" "$IMG/v2/images/$id" || echo 000)
  put transfer.delete_status "$code"
  [ "$code" = 204 ] || flag "image delete answered $code"
  if [ -n "$imgfile" ] && [ -e "$imgfile" ]; then flag "image data $imgfile still there after delete"; fi
  rm -f "$src"
}

# ---- 4. listing --------------------------------------------------------------------

list_load() {  # list_load NAME QUERY
  local name=$1 query=$2 url="$IMG/v2/images?$2" p="list.$1" code n
  put_s "$p.query" "$query"
  code=$(curl -s -o "$OUT/list-$name.preflight.json" -w '%{http_code}' -H "X-Auth-Token: $TOK" "$url" || echo 000)
  put "$p.preflight_status" "$code"
  if [ "$code" != 200 ]; then
    flag "listing $name: preflight answered $code ($(head -c 300 "$OUT/list-$name.preflight.json" | tr '\n' ' ')); load skipped"
    return 0
  fi
  n=$(jq '.images | length' "$OUT/list-$name.preflight.json")
  put "$p.page_items" "$n"
  put "$p.page_bytes" "$(stat -c %s "$OUT/list-$name.preflight.json")"
  [ "$n" = 25 ] || flag "listing $name: the page has $n images, not 25"
  if [ "$WARMUP" -gt 0 ]; then
    wrk -t"$LTHREADS" -c"$LCONNS" -d"${WARMUP}s" --timeout "$WRK_TIMEOUT" -H "X-Auth-Token: $TOK" "$url" > "$OUT/list-$name.warmup.txt" 2>&1 || true
  fi
  log "listing $name: wrk -t$LTHREADS -c$LCONNS ${LIST_SECONDS}s GET /image/v2/images?$query"
  wrk -t"$LTHREADS" -c"$LCONNS" -d"${LIST_SECONDS}s" --latency --timeout "$WRK_TIMEOUT" -H "X-Auth-Token: $TOK" "$url" \
      > "$OUT/list-$name.wrk.txt" 2>&1 \
    || { flag "listing $name: wrk failed: $(tail -n 3 "$OUT/list-$name.wrk.txt" | tr '\n' ' ')"; return 0; }
  parse_wrk "$OUT/list-$name.wrk.txt" "$p"
  log "listing $name: ${R[$p.rps]:-?} req/s, p50 ${R[$p.p50_ms]:-?} ms, p99 ${R[$p.p99_ms]:-?} ms, non-2xx ${R[$p.non2xx]}"
  [ "${R[$p.non2xx]}" = 0 ] || flag "listing $name: ${R[$p.non2xx]} non-2xx responses of ${R[$p.requests]:-?}"
  [ "${R[$p.err_timeout]}" = 0 ] || flag "listing $name: ${R[$p.err_timeout]} requests timed out (> $WRK_TIMEOUT), not in the latency figures"
  [ "${R[$p.err_connect]}" = 0 ] || flag "listing $name: ${R[$p.err_connect]} connect errors"
}

bench_list() {
  local j mid
  load_busy create
  put rss.before_create_kib "$(rss_kib "$MPID")"
  log "listing: creating $NIMAGES images ($CREATE_CONC keep-alive connections)"
  j=$(python3 "$LIB/image-fill.py" create --url "$IMG" --token "$TOK" --count "$NIMAGES" --concurrency "$CREATE_CONC" \
        --tag-every 10 --qcow2-every 4 2>"$OUT/create.err") || true
  printf '%s\n' "$j" > "$OUT/create.json"
  put create.created "$(jq -r '.created // 0' <<< "$j" 2>/dev/null || echo 0)"
  put create.seconds "$(jq -r '.seconds // empty' <<< "$j" 2>/dev/null)"
  put create.per_s "$(jq -r '.per_s // empty' <<< "$j" 2>/dev/null)"
  put create.p50_ms "$(jq -r '.p50_ms // empty' <<< "$j" 2>/dev/null)"
  put create.p99_ms "$(jq -r '.p99_ms // empty' <<< "$j" 2>/dev/null)"
  [ "${R[create.created]}" = "$NIMAGES" ] || flag "created ${R[create.created]} of $NIMAGES images ($(jq -c '.first_errors // .error' <<< "$j" 2>/dev/null | head -c 300); $(head -c 200 "$OUT/create.err"))"
  put rss.after_create_kib "$(rss_kib "$MPID")"
  log "created ${R[create.created]} images in ${R[create.seconds]} s (${R[create.per_s]}/s, p50 ${R[create.p50_ms]} ms, p99 ${R[create.p99_ms]} ms)"

  # what the filters select (walked with limit=1000 pages) and the marker of the middle page
  j=$(python3 "$LIB/image-fill.py" walk --url "$IMG" --token "$TOK" --position $(( NIMAGES / 2 )) 2>>"$OUT/create.err" || true)
  put list.total_images "$(jq -r '.count // 0' <<< "$j" 2>/dev/null || echo 0)"
  put list.walk_all_s "$(jq -r '.seconds // empty' <<< "$j" 2>/dev/null)"
  mid=$(jq -r '.id_at_position // empty' <<< "$j" 2>/dev/null || true)
  [ "${R[list.total_images]}" -ge "$NIMAGES" ] || flag "listing: walking all pages found ${R[list.total_images]} images, expected >= $NIMAGES"
  j=$(python3 "$LIB/image-fill.py" walk --url "$IMG" --token "$TOK" --query tag=bench 2>>"$OUT/create.err" || true)
  put list.tag_matches "$(jq -r '.count // 0' <<< "$j" 2>/dev/null || echo 0)"
  j=$(python3 "$LIB/image-fill.py" walk --url "$IMG" --token "$TOK" --query disk_format=qcow2 2>>"$OUT/create.err" || true)
  put list.disk_format_matches "$(jq -r '.count // 0' <<< "$j" 2>/dev/null || echo 0)"
  log "listing: ${R[list.total_images]} images in all (walked in ${R[list.walk_all_s]:-?} s at limit=1000), tag=bench selects ${R[list.tag_matches]}, disk_format=qcow2 ${R[list.disk_format_matches]}"
  [ "${R[list.tag_matches]}" = $(( (NIMAGES + 9) / 10 )) ] || flag "listing: tag=bench selects ${R[list.tag_matches]}, expected $(( (NIMAGES + 9) / 10 ))"
  [ "${R[list.disk_format_matches]}" = $(( (NIMAGES + 3) / 4 )) ] || flag "listing: disk_format=qcow2 selects ${R[list.disk_format_matches]}, expected $(( (NIMAGES + 3) / 4 ))"

  load_busy list
  local l
  for l in $LIST_LOADS; do
    case "$l" in
      first) list_load first "limit=25" ;;
      tag) list_load tag "limit=25&tag=bench" ;;
      disk_format) list_load disk_format "limit=25&disk_format=qcow2" ;;
      marker)
        if [ -n "$mid" ]; then list_load marker "limit=25&marker=$mid"; else flag "listing: no marker for the middle page; load skipped"; fi ;;
      *) die "unknown load '$l' in BENCH_LIST_LOADS" ;;
    esac
  done
  put rss.after_list_kib "$(rss_kib "$MPID")"
}

# ---- the run -------------------------------------------------------------------------
load_busy disk
dd_pass 1
log "martlet: starting on a fresh data dir $MDATA, port $MPORT"
martlet_start
get_token --no-project
put rss.idle_start_kib "$(rss_kib "$MPID")"
[ "${BENCH_SKIP_TRANSFER:-0}" = 1 ] || bench_transfer
if [ "$DD_PASSES" -ge 2 ]; then dd_pass 2; fi
[ "${BENCH_SKIP_LIST:-0}" = 1 ] || bench_list
put rss.end_kib "$(rss_kib "$MPID")"
martlet_stop
grep -qiE 'critical|fatal|panic' "$OUT/martlet.log" && flag "martlet's log has critical/fatal lines (see $OUT/martlet.log)"

# ---- 5. report -------------------------------------------------------------------------
frac() { [ -n "$1" ] && [ -n "$2" ] && awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b }'; return 0; }

for k in write_mbps read_warm_mbps read_cold_mbps read_direct_mbps; do
  m=$(mean_of "$k"); [ -z "$m" ] || put "disk.$k" "$m"
done
# the read reference: the better of the two cold reads (buffered after eviction, O_DIRECT)
DD_W=$(v disk.write_mbps)
DD_R=$(printf '%s\n%s\n' "$(v disk.read_cold_mbps)" "$(v disk.read_direct_mbps)" | grep . | sort -g | tail -n 1 || true)
DD_WARM=$(v disk.read_warm_mbps)
[ -z "$DD_R" ] || put disk.read_ref_mbps "$DD_R"
UP=$(v transfer.upload.mbps); DC=$(v transfer.download_cold.mbps); DW=$(v transfer.download_warm.mbps)
F_UP=$(frac "$UP" "$DD_W"); F_DC=$(frac "$DC" "$DD_R"); F_DW=$(frac "$DW" "$DD_WARM")
[ -z "$F_UP" ] || put ratios.upload_vs_dd_write "$F_UP"
[ -z "$F_DC" ] || put ratios.download_cold_vs_dd_read "$F_DC"
[ -z "$F_DW" ] || put ratios.download_warm_vs_dd_warm_read "$F_DW"
pass_list() { local k s=""; for k in $(seq 1 "$DD_PASSES"); do s+="${R[disk.pass$k.$1]:-?}/"; done; echo "${s%/}"; }

row "disk: dd write ${SIZE_MIB} MiB, fdatasync (MB/s) [1]" "$(fmt "$DD_W")" "(passes $(pass_list write_mbps))"
row "disk: dd read, cold, buffered (MB/s) [1]" "$(fmt "$(v disk.read_cold_mbps)")" "(passes $(pass_list read_cold_mbps))"
row "disk: dd read, O_DIRECT (MB/s) [1]" "$(fmt "$(v disk.read_direct_mbps)")" "(passes $(pass_list read_direct_mbps))"
row "disk: dd read, warm page cache (MB/s) [1]" "$(fmt "$DD_WARM")" "(passes $(pass_list read_warm_mbps))"
row "upload ${SIZE_MIB} MiB, curl PUT (s)" "$(fmt "$(v transfer.upload.seconds)" 2)"
row "upload (MB/s)" "$(fmt "$UP")"
row "  upload / dd write" "$(fmt "$F_UP" 2)" ">= $T_FRACTION" "$(verdict "x >= $T_FRACTION" "$F_UP")"
if [ -n "$(v cpu.hash_both_one_core_mbps)" ]; then
  row "  CPU ceiling: md5 then sha512, one core (MB/s) [5]" "$(fmt "$(v cpu.hash_both_one_core_mbps)")" "(md5 $(fmt "$(v cpu.hash_md5_mbps)" 0), sha512 $(fmt "$(v cpu.hash_sha512_mbps)" 0))"
  row "  upload / that ceiling" "$(fmt "$(frac "$UP" "$(v cpu.hash_both_one_core_mbps)")" 2)" "(info)"
fi
row "download, cold cache, curl GET (MB/s)" "$(fmt "$DC")"
row "  download cold / dd cold read [2]" "$(fmt "$F_DC" 2)" ">= $T_FRACTION" "$(verdict "x >= $T_FRACTION" "$F_DC")"
row "download, warm cache (MB/s)" "$(fmt "$DW")"
row "  download warm / dd warm read" "$(fmt "$F_DW" 2)" "(info)"
row "download verified (md5, sha512, Content-MD5)" "$(v transfer.verified)" "yes" "$( [ "$(v transfer.verified)" = yes ] && echo MET || { [ -n "$(v transfer.verified)" ] && echo "NOT MET" || echo n/a; })"
for ph in upload download_cold download_warm; do
  g=$(v "rss.$ph.growth_kib")
  [ -n "$g" ] || continue
  row "RSS $ph: idle before -> peak (MiB) [3]" "$(mib "$(v "rss.$ph.idle_before_kib")") -> $(mib "$(v "rss.$ph.peak_kib")")" "" ""
  row "  server CPU during $ph (cores, of $(v host.nproc)) [4]" "$(v "cpu.$ph.server_cores")" "(user $(v "cpu.$ph.server_user_cores"), sys $(v "cpu.$ph.server_sys_cores"))"
  row "  RSS growth during $ph (MiB)" "$(mib "$g")" "< $T_RSS_GROWTH_MB MB" \
      "$(verdict "x * 1024 < $T_RSS_GROWTH_MB * 1000000" "$g")"
done
if [ -n "$(v create.created)" ]; then
  row "create $(v create.created) images, $CREATE_CONC connections (s)" "$(fmt "$(v create.seconds)" 1)" "" ""
  row "  create rate (images/s); p50 / p99 (ms)" "$(fmt "$(v create.per_s)" 0); $(fmt "$(v create.p50_ms)" 1) / $(fmt "$(v create.p99_ms)" 1)"
fi
declare -A LTITLE=([first]="list first page, no filter" [tag]="list tag=bench ($(v list.tag_matches) match)" \
                   [disk_format]="list disk_format=qcow2 ($(v list.disk_format_matches) match)" [marker]="list page at image $(( NIMAGES / 2 )) (marker)")
for l in $LIST_LOADS; do
  p50=$(v "list.$l.p50_ms"); p99=$(v "list.$l.p99_ms")
  [ -n "$(v "list.$l.preflight_status")" ] || continue
  row "${LTITLE[$l]:-$l}, limit=25: p50 (ms)" "$(fmt "$p50" 2)"
  row "  p99 (ms)" "$(fmt "$p99" 2)" "< $T_LIST_P99_MS ms" "$(verdict "x < $T_LIST_P99_MS" "$p99")"
  row "  req/s (-t$LTHREADS -c$LCONNS)" "$(fmt "$(v "list.$l.rps")" 0)"
done
row "RSS: idle at start / after transfers+creates / end (MiB)" \
    "$(mib "$(v rss.idle_start_kib)") / $(mib "$(v rss.after_create_kib)") / $(mib "$(v rss.end_kib)")"

{
  summary_head Image
  echo "disk: $(v disk.fs) ($(v disk.dir)); image ${SIZE_MIB} MiB of random bytes; wrk $(v params.wrk); MB = 10^6 bytes"
  echo "1-min load average before: disk $(v host.loadavg_before_disk), upload $(v host.loadavg_before_upload), download $(v host.loadavg_before_download_cold), listing $(v host.loadavg_before_list) (above ~0.7 something else was running)"
  echo
  print_rows 58 18 22
  echo "[1] same filesystem as martlet's data dir, mean of $DD_PASSES pass(es) (before the transfers$([ "$DD_PASSES" -lt 2 ] || echo ', and after them')); cold = the file"
  echo "    evicted from the page cache with posix_fadvise (dd iflag=nocache) before a buffered read; O_DIRECT bypasses the cache"
  echo "[2] against the better of the two cold reads (${DD_R:-?} MB/s); the image file was evicted the same way before the GET"
  echo "[3] server RSS: /proc/PID/statm every ${RSS_INTERVAL}s ($(v rss.upload.samples) samples during the upload) and VmHWM (exact peak; reset before each"
  echo "    transfer through /proc/PID/clear_refs); growth = peak - idle RSS measured ${IDLE_WAIT}s before the transfer; target in MB (10^6 bytes)"
  echo "[4] the server's user+system CPU time over the transfer's wall time (/proc/PID/stat): ~1.0 = one core saturated"
  [ -z "$(v cpu.hash_both_one_core_mbps)" ] || echo "[5] openssl dgst -md5 and -sha512 over the (cached) source file, one after the other on one core: the upload's per-byte
    work if both digests run on one thread; a fraction of dd above this needs the digests on two cores (or a faster disk path)"
  if [ -n "$(v create.created)" ]; then
    echo
    echo "Listing responses (non-2xx / socket errors connect,read,write,timeout):"
    for l in $LIST_LOADS; do
      [ -n "$(v "list.$l.requests")" ] || { echo "  $l: not measured"; continue; }
      echo "  $l ($(v "list.$l.query")): $(v "list.$l.requests") requests, non-2xx $(v "list.$l.non2xx"), socket errors $(v "list.$l.err_connect"),$(v "list.$l.err_read"),$(v "list.$l.err_write"),$(v "list.$l.err_timeout"); page $(v "list.$l.page_bytes") bytes"
    done
  fi
  print_flags
} | tee "$OUT/summary.txt"

put_s targets.upload_80pct_dd "$(verdict "x >= $T_FRACTION" "$F_UP")"
put_s targets.download_80pct_dd "$(verdict "x >= $T_FRACTION" "$F_DC")"
for ph in upload download_cold download_warm; do
  [ -z "$(v "rss.$ph.growth_kib")" ] || put_s "targets.rss_growth_under_64MB_$ph" "$(verdict "x * 1024 < $T_RSS_GROWTH_MB * 1000000" "$(v "rss.$ph.growth_kib")")"
done
for l in $LIST_LOADS; do
  [ -z "$(v "list.$l.p99_ms")" ] || put_s "targets.list_p99_under_20ms_$l" "$(verdict "x < $T_LIST_P99_MS" "$(v "list.$l.p99_ms")")"
done
write_results image "RSS samples, wrk output, dd output, server log and summary.txt"
