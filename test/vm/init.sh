#!/bin/busybox sh
# PID 1 of the emulated KVM host (busybox initramfs built by test/vm/run.sh).
# Loads kvm_amd and the 9p stack, mounts the host's root (read-only) and the
# writable output share, and chroots into the host root to run guest.sh from
# the output share, so perf, node and kvmlens run unchanged. Always powers off.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev

# busybox insmod resolves no dependencies: run.sh wrote them in load order.
for m in $(cat /modules.order); do
  insmod "/lib/modules/$m.ko" || echo "init: insmod $m failed"
done

R=/newroot
# Large msize and cache=loose make reading node/perf over 9p several times faster.
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000,cache=loose,ro hostroot $R \
  || { echo "init: cannot mount the host root over 9p"; poweroff -f; }
mount -t proc proc $R/proc
mount -t sysfs sys $R/sys
mount -t tracefs nodev $R/sys/kernel/tracing
mount -t debugfs nodev $R/sys/kernel/debug
mount -t devtmpfs dev $R/dev
# /run is the only writable local place: perf cannot mmap files on 9p.
mount -t tmpfs -o size=512m tmp $R/run
mkdir -p $R/run/out
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 out $R/run/out \
  || { echo "init: cannot mount the output share"; poweroff -f; }

chroot $R /bin/sh /run/out/guest.sh
echo "KVMLENS-VM guest.sh exit $?"
sync
umount $R/run/out
poweroff -f
