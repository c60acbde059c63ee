#!/bin/sh
# Runs inside the emulated KVM host, chrooted into the host's root, with
# /run/out the writable share read by run.sh. Every step appends
# "name exit-code seconds" to /run/out/steps so the host can tell exactly
# which parts ran. Recordings go to tmpfs (perf cannot mmap a 9p file) and
# are copied to the share afterwards.
set -u
OUT=/run/out
X=/run/x
mkdir -p $X /run/tmp /run/home
export TMPDIR=/run/tmp HOME=/run/home PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. $OUT/env.sh   # COUNTS, KVMLENS_BIN (may be empty)
VMM=$OUT/tiny-vmm

uptime_s() { cut -d' ' -f1 /proc/uptime; }
echo "boot $(uptime_s)" > $OUT/times

# step NAME CMD...: run, record rc and duration, never abort the script.
step() {
  name=$1; shift
  t0=$(uptime_s)
  "$@"
  rc=$?
  echo "$name $rc $(echo "$(uptime_s) $t0" | awk '{printf "%.2f", $1 - $2}')" >> $OUT/steps
  echo "guest: step $name rc=$rc"
  return $rc
}

: > $OUT/steps
# The exporter is scraped over loopback, which an initramfs leaves down.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null || true
dmesg > $OUT/dmesg.txt
step dev-kvm test -c /dev/kvm || { grep -iE 'kvm|svm' $OUT/dmesg.txt; exit 1; }

# Real perf: `perf kvm stat record` is `perf record` of the kvm tracepoints.
step perf-record sh -c "perf kvm stat record -a -o $X/perf.data.guest -- $VMM $COUNTS \
  > $OUT/vmm-counts.json 2> $OUT/perf-record.stderr" \
  && cp $X/perf.data.guest $OUT/perf.data.guest
for ev in vmexit ioport mmio; do
  # perf kvm prints the whole report on stderr; the input is an option of `perf kvm`.
  step perf-report-$ev sh -c "perf kvm -i $X/perf.data.guest stat report --event=$ev \
    > /dev/null 2> $OUT/perf-report-$ev.txt"
done
echo "perf $(uptime_s)" >> $OUT/times

if [ -n "$KVMLENS_BIN" ]; then
  # kvmlens is still being built: each part may fail; run.sh reports which ran.
  step kvmlens-record sh -c "$KVMLENS_BIN stat record -o $X/kvmlens.data -- $VMM $COUNTS \
    > $OUT/vmm-counts-kvmlens.json 2> $OUT/kvmlens-record.stderr" \
    && cp $X/kvmlens.data $OUT/kvmlens.data
  for f in perf kvmlens; do
    [ $f = perf ] && in=$X/perf.data.guest || in=$X/kvmlens.data
    [ -f "$in" ] || continue
    for ev in vmexit ioport mmio; do
      step kvmlens-report-$f-$ev sh -c "$KVMLENS_BIN stat report -i $in --event=$ev \
        > $OUT/kvmlens-report-$f-$ev.txt 2>&1"
      [ $f = kvmlens ] && step perf-report-kvmlens-$ev sh -c "perf kvm -i $in stat report \
        --event=$ev > /dev/null 2> $OUT/perf-report-kvmlens-$ev.txt"
    done
    # Real perf's generic reader too: every tracepoint record decoded by name.
    step perf-script-$f sh -c "perf script -i $in > $OUT/perf-script-$f.txt 2> $OUT/perf-script-$f.stderr"
    step kvmlens-report-$f-json sh -c "$KVMLENS_BIN stat report -i $in --json \
      > $OUT/kvmlens-report-$f.json 2> $OUT/kvmlens-report-$f.json.stderr"
  done

  # stat live while the VMM runs: per-interval tables (reset each time) that
  # must add up to the VMM's counts; SIGTERM with stdin at EOF must end it.
  step kvmlens-live sh -c "$KVMLENS_BIN stat live -d 1 --event=ioport < /dev/null \
      > $OUT/kvmlens-live.txt 2> $OUT/kvmlens-live.stderr & lp=\$!
    i=0; while [ \$i -lt 300 ] && ! grep -q 'Analyze events' $OUT/kvmlens-live.txt; do sleep 0.2; i=\$((i+1)); done
    $VMM $COUNTS > $OUT/vmm-counts-live.json
    sleep 2.5; kill -TERM \$lp; wait \$lp"

  # The exporter, scraped from inside once the VMM has run.
  step kvmlens-exporter sh -c "$KVMLENS_BIN exporter --web.listen-address 127.0.0.1:9756 \
      > $OUT/kvmlens-exporter.log 2>&1 & ep=\$!
    i=0; while [ \$i -lt 300 ] && ! grep -q listening $OUT/kvmlens-exporter.log; do sleep 0.2; i=\$((i+1)); done
    $VMM $COUNTS > $OUT/vmm-counts-exporter.json
    node -e \"fetch('http://127.0.0.1:9756/metrics').then(r => r.text()).then(t => process.stdout.write(t))\" \
      > $OUT/kvmlens-metrics.txt; rc=\$?
    kill -TERM \$ep; wait \$ep; exit \$rc"
fi
echo "end $(uptime_s)" >> $OUT/times
exit 0
