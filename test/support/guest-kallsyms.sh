#!/usr/bin/env bash
# Boots Debian's kernel (linux-image-amd64) under QEMU TCG just long enough
# to copy its /proc/kallsyms and /proc/modules (with kvm loaded, so module
# symbols are there too): a real guest kernel's symbol files for the
# guest-symbolization tests. Debian's /boot/System.map-* is only a
# placeholder (the real one is in the -dbg package), hence this.
#
#   test/support/guest-kallsyms.sh OUT_DIR     -> OUT_DIR/{kallsyms,modules,version}
# Exit: 0 ok, 1 failure, 77 prerequisites missing (skip).
set -uo pipefail
OUT=${1:?usage: guest-kallsyms.sh OUT_DIR}
WORK=$(mktemp -d /tmp/kvmlens-guest-syms.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
skip() { echo "guest-kallsyms: SKIP: $*" >&2; exit 77; }
fail() { echo "guest-kallsyms: FAIL: $*" >&2; [ -f "$WORK/console.log" ] && tail -20 "$WORK/console.log" >&2; exit 1; }

[ "$(id -u)" = 0 ] || skip "needs root (9p passthrough)"
command -v qemu-system-x86_64 >/dev/null || skip "qemu-system-x86_64 not installed (apt-get install qemu-system-x86)"
for t in cpio modinfo; do command -v $t >/dev/null || skip "$t not installed (apt-get install cpio kmod)"; done
file -L /bin/busybox 2>/dev/null | grep -q 'statically linked' || ldd /bin/busybox 2>&1 | grep -q 'not a dynamic' \
  || skip "/bin/busybox missing or not static (apt-get install busybox-static)"
KVER=$(ls /lib/modules 2>/dev/null | sort -V | while read -r v; do [ -f /boot/vmlinuz-$v ] && echo "$v"; done | tail -1)
[ -n "$KVER" ] || skip "no Debian kernel in /boot + /lib/modules (apt-get install linux-image-amd64)"

ird=$WORK/initramfs
mkdir -p "$ird"/{bin,proc,sys,dev,out,lib/modules} "$OUT"
cp /bin/busybox "$ird/bin/busybox"
declare -A seen=()
add_module() {
  local m=${1//-/_} d f
  [ -n "${seen[$m]:-}" ] && return
  seen[$m]=1
  for d in $(modinfo -k "$KVER" -F depends "$m" | tr , ' '); do add_module "$d"; done
  f=$(modinfo -k "$KVER" -n "$m") || fail "module $m not found for $KVER"
  [ -f "$f" ] || return 0
  case $f in
    *.xz) xz -dc "$f" ;; *.zst) zstd -qdc "$f" ;; *.gz) gzip -dc "$f" ;; *) cat "$f" ;;
  esac > "$ird/lib/modules/$m.ko" || fail "cannot unpack $f"
  echo "$m" >> "$ird/modules.order"
}
for m in irqbypass kvm virtio_pci 9pnet_virtio 9p; do add_module $m; done
cat > "$ird/init" <<'INIT'
#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
for m in $(cat /modules.order); do insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out /out || { echo "init: no 9p"; poweroff -f; }
cat /proc/kallsyms > /out/kallsyms
cat /proc/modules > /out/modules
uname -r > /out/version
sync
umount /out
poweroff -f
INIT
chmod +x "$ird/init"
(cd "$ird" && find . | cpio -o -H newc --quiet | gzip -1) > "$WORK/initramfs.cpio.gz" || fail "cpio failed"
timeout -s KILL "${KVMLENS_VM_TIMEOUT:-240}" qemu-system-x86_64 -accel tcg -cpu qemu64 -m 1024 -nodefaults \
  -display none -serial stdio -no-reboot -kernel "/boot/vmlinuz-$KVER" -initrd "$WORK/initramfs.cpio.gz" \
  -append "console=ttyS0 panic=-1 quiet" \
  -virtfs "local,path=$OUT,mount_tag=out,security_model=none,multidevs=remap" \
  < /dev/null > "$WORK/console.log" 2>&1 || fail "QEMU failed or timed out"
[ -s "$OUT/kallsyms" ] && [ -s "$OUT/modules" ] || fail "the guest wrote no kallsyms/modules"
echo "guest-kallsyms: kernel $(cat "$OUT/version"): $(wc -l < "$OUT/kallsyms") symbols, $(wc -l < "$OUT/modules") modules"
