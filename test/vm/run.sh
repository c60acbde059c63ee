#!/usr/bin/env bash
# End-to-end real-KVM run without /dev/kvm on the machine: boots Debian's own
# kernel under QEMU TCG with emulated AMD SVM (an emulated KVM host), and in
# one boot runs tiny-vmm under real `perf kvm stat record`, perf's reports and,
# if KVMLENS_BIN is set, the same with kvmlens (see guest.sh).
#
#   test/vm/run.sh [OUT_DIR]          results in OUT_DIR (default $WORK/out)
#
# Environment (all optional):
#   KVMLENS_BIN          kvmlens command line, e.g. "node /work/main/bin/kvmlens.js"
#   KVMLENS_VM_COUNTS    tiny-vmm's "N_OUT N_IN N_MMIO_W N_MMIO_R" (default 1000 500 100 50)
#   KVMLENS_VM_TIMEOUT   seconds before QEMU is killed (default 240)
#   KVMLENS_VM_KERNEL    Debian kernel version in /lib/modules (default: newest installed)
#   KVMLENS_VM_CPU       QEMU -cpu (default qemu64,+svm,+npt: AMD, nested paging -> npf exits)
#   KVMLENS_VM_SMP, KVMLENS_VM_MEM   vCPUs (default 1) and MiB (default 2048)
#   KVMLENS_VM_WORK      scratch dir (default /tmp/kvmlens-vm)
#   KVMLENS_VM_QEMU      QEMU binary (default qemu-system-x86_64)
# Exit: 0 ok, 1 failure (console tail printed), 77 prerequisites missing (skip).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
WORK=${KVMLENS_VM_WORK:-/tmp/kvmlens-vm}
OUT=${1:-$WORK/out}
COUNTS=${KVMLENS_VM_COUNTS:-1000 500 100 50}
TIMEOUT=${KVMLENS_VM_TIMEOUT:-240}
CPU=${KVMLENS_VM_CPU:-qemu64,+svm,+npt}
QEMU=${KVMLENS_VM_QEMU:-qemu-system-x86_64}
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
skip() { echo "vm: SKIP: $*" >&2; exit 77; }
fail() {
  echo "vm: FAIL: $*" >&2
  # What the guest left behind, most telling first.
  for f in "$OUT/perf-record.stderr" "$OUT/dmesg.txt" "$WORK/console.log"; do
    [ -s "$f" ] || continue
    echo "--- tail of $f ---" >&2
    if [ "${f##*/}" = dmesg.txt ]; then grep -iE 'kvm|svm|9p|error|fail' "$f" | tail -15 >&2; else tail -40 "$f" >&2; fi
  done
  exit 1
}

# --- prerequisites: missing ones mean skip, not failure ---
[ "$(id -u)" = 0 ] || skip "needs root (QEMU 9p passthrough of / and perf in the guest)"
command -v "$QEMU" >/dev/null || skip "$QEMU not installed (apt-get install qemu-system-x86)"
for t in busybox cpio gcc modinfo perf; do
  command -v $t >/dev/null || [ -x /bin/$t ] || skip "$t not installed (apt-get install busybox-static cpio gcc kmod linux-perf)"
done
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' \
  || skip "/bin/busybox is not static (apt-get install busybox-static)"
# Debian's kernel, not the running one (which is not Debian's and has no modules here).
KVER=${KVMLENS_VM_KERNEL:-$(ls /lib/modules 2>/dev/null | sort -V | while read -r v; do [ -f /boot/vmlinuz-$v ] && echo "$v"; done | tail -1)}
[ -n "$KVER" ] && [ -f /boot/vmlinuz-$KVER ] || skip "no Debian kernel in /boot + /lib/modules (apt-get install linux-image-amd64)"
modinfo -k "$KVER" -n kvm_amd >/dev/null 2>&1 || skip "kernel $KVER has no kvm_amd module"

# Only ever delete an OUT_DIR that a previous run made (it has env.sh).
if [ -d "$OUT" ] && [ -n "$(ls -A "$OUT")" ] && [ ! -f "$OUT/env.sh" ]; then
  echo "vm: $OUT is not empty and not from a previous run; refusing to clear it" >&2; exit 1
fi
rm -rf "$WORK/initramfs" "$OUT" && mkdir -p "$WORK/initramfs" "$OUT" || fail "cannot create $WORK and $OUT"
OUT=$(cd "$OUT" && pwd)
echo "vm: kernel $KVER, cpu $CPU, counts $COUNTS, work $WORK, out $OUT"

# --- build: tiny-vmm and the initramfs ---
t0=$(now)
gcc -static -O2 -Wall -o "$OUT/tiny-vmm" "$here/tiny-vmm.c" || fail "tiny-vmm does not compile"
cp "$here/guest.sh" "$OUT/guest.sh"
q() { printf "'%s'" "$(printf %s "$1" | sed "s/'/'\\\\''/g")"; }  # POSIX sh quoting
{ echo "COUNTS=$(q "$COUNTS")"; echo "KVMLENS_BIN=$(q "${KVMLENS_BIN:-}")"; } > "$OUT/env.sh"

ird=$WORK/initramfs
mkdir -p "$ird"/{bin,proc,sys,dev,newroot,lib/modules}
cp /bin/busybox "$ird/bin/busybox"
cp "$here/init.sh" "$ird/init" && chmod +x "$ird/init"
# Modules with their dependencies first (modinfo's depends, depth-first).
declare -A seen=()
add_module() {
  local m=${1//-/_} d f
  [ -n "${seen[$m]:-}" ] && return
  seen[$m]=1
  for d in $(modinfo -k "$KVER" -F depends "$m" | tr , ' '); do add_module "$d"; done
  f=$(modinfo -k "$KVER" -n "$m") || fail "module $m not found for $KVER"
  [ -f "$f" ] || return 0   # built into the kernel
  # busybox insmod may not decompress: store plain .ko files.
  case $f in
    *.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *.gz) gzip -dc "$f" ;; *) cat "$f" ;;
  esac > "$ird/lib/modules/$m.ko" || fail "cannot unpack $f"
  echo "$m" >> "$ird/modules.order"
}
for m in irqbypass kvm ccp kvm_amd virtio_pci 9pnet_virtio 9p; do add_module $m; done
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.cpio.gz" || fail "cpio failed"
echo "vm: build (tiny-vmm + initramfs: $(tr '\n' ' ' < "$ird/modules.order")) $(since "$t0") s"

# --- boot and run, under a hard time budget ---
t0=$(now)
timeout -s KILL "$TIMEOUT" "$QEMU" -accel tcg -cpu "$CPU" -smp "${KVMLENS_VM_SMP:-1}" \
  -m "${KVMLENS_VM_MEM:-2048}" -nodefaults -display none -serial stdio -no-reboot \
  -kernel "/boot/vmlinuz-$KVER" -initrd "$WORK/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$OUT,mount_tag=out,security_model=none,multidevs=remap" \
  < /dev/null > "$WORK/console.log" 2>&1
qrc=$?   # 137: killed by the budget
wall=$(since "$t0")
cp "$WORK/console.log" "$OUT/console.log"
[ $qrc -eq 137 ] && fail "QEMU killed after the ${TIMEOUT}s budget"
[ $qrc -eq 0 ] || fail "QEMU exited with $qrc"
[ -f "$OUT/times" ] || fail "guest.sh never started (no $OUT/times)"

# --- what ran ---
read_time() { awk -v k="$1" '$1 == k { print $2 }' "$OUT/times"; }
boot=$(read_time boot); perf_end=$(read_time perf); end=$(read_time end)
echo "vm: QEMU wall ${wall} s; guest uptime at start of run ${boot} s;" \
  "perf part $(awk -v a="$boot" -v b="${perf_end:-$boot}" 'BEGIN{printf "%.1f", b-a}') s;" \
  "whole run $(awk -v a="$boot" -v b="${end:-$boot}" 'BEGIN{printf "%.1f", b-a}') s (guest clock)"
echo "vm: steps (name rc seconds):"
sed 's/^/vm:   /' "$OUT/steps"
bad=0
for s in dev-kvm perf-record perf-report-vmexit perf-report-ioport perf-report-mmio; do
  grep -q "^$s 0 " "$OUT/steps" || { echo "vm: required step $s did not succeed" >&2; bad=1; }
done
if [ -n "${KVMLENS_BIN:-}" ]; then
  k_ok=$(grep -c '^kvmlens-[^ ]* 0 ' "$OUT/steps"); k_all=$(grep -c '^kvmlens-' "$OUT/steps")
  echo "vm: kvmlens parts: $k_ok of $k_all succeeded (failures tolerated; outputs in $OUT)"
else
  echo "vm: kvmlens parts: not run (KVMLENS_BIN unset)"
fi
[ $bad -eq 0 ] || fail "see $OUT (perf-record.stderr, dmesg.txt)"
echo "vm: ok; results in $OUT"
