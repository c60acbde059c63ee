#!/usr/bin/env bash
# Regenerates test/fixtures/vm/ from one run of the emulated KVM host
# (test/vm/run.sh): real perf's recording of tiny-vmm, the VMM's own counts
# and perf's three reports of that file. Counts are smaller than the test's
# so the recording stays well under 300 KB (about 108 bytes per sample;
# each counted exit is 2-3 samples).
#   test/vm/regenerate-fixtures.sh        (root; same prerequisites as run.sh)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
dest=$(cd "$here/../fixtures" && pwd)/vm
counts=${KVMLENS_VM_COUNTS:-300 150 40 20}
out=$(mktemp -d /tmp/kvmlens-vm-fixtures.XXXXXX)
trap 'rm -rf "$out"' EXIT

# Fixtures are perf's alone: no kvmlens in this run.
KVMLENS_BIN= KVMLENS_VM_COUNTS="$counts" "$here/run.sh" "$out"

mkdir -p "$dest"
install -m 644 "$out/perf.data.guest" "$dest/perf-kvm-amd.data"
install -m 644 "$out/vmm-counts.json" "$dest/perf-kvm-amd.vmm.json"
for ev in vmexit ioport mmio; do
  install -m 644 "$out/perf-report-$ev.txt" "$dest/perf-kvm-amd.report-$ev.txt"
done

kver=$(sed -n 's/^# os release : //p' < <(perf report -i "$dest/perf-kvm-amd.data" --header-only 2>/dev/null))
perfver=$(sed -n 's/^# perf version : //p' < <(perf report -i "$dest/perf-kvm-amd.data" --header-only 2>/dev/null))
cpuid=$(sed -n 's/^# cpuid : //p' < <(perf report -i "$dest/perf-kvm-amd.data" --header-only 2>/dev/null))
cat > "$dest/README.md" <<EOF
# Real KVM recordings from the emulated KVM host

Made by \`test/vm/regenerate-fixtures.sh\` (which runs \`test/vm/run.sh\`) on $(date -u +%Y-%m-%d):
QEMU $(${KVMLENS_VM_QEMU:-qemu-system-x86_64} --version | head -1 | awk '{print $4}') in TCG mode, \`-cpu ${KVMLENS_VM_CPU:-qemu64,+svm,+npt}\` (emulated AMD SVM with nested paging), 1 vCPU,
running Debian's kernel **$kver** with \`kvm_amd\`; recorded there by real **perf $perfver** (\`perf kvm stat record -a\`).
CPUID in the file: \`$cpuid\` (exit reasons decode with the SVM table).

The inner guest is \`test/vm/tiny-vmm.c\` run as \`tiny-vmm $counts\`: $(set -- $counts; echo "$1 \`out\` to port 0x10, $2 \`in\` from 0x11, $3 MMIO writes over 0x20000/8/10/18, $4 MMIO reads over 0x21000/0x21008"), one \`hlt\`,
then one \`out\` to 0x12 that ends the run (the last exit of a VM has no following \`kvm_entry\`, so perf never reports it).

| file | what |
|---|---|
| \`perf-kvm-amd.data\` | perf's recording (\`kvm:kvm_entry/exit/mmio/pio/msr\`, 6.1 tracepoint formats, HEADER_CPUID AuthenticAMD) |
| \`perf-kvm-amd.vmm.json\` | the VMM's own counts of KVM_EXIT_IO / MMIO / HLT, keys spelled as perf spells them |
| \`perf-kvm-amd.report-{vmexit,ioport,mmio}.txt\` | \`perf kvm -i perf-kvm-amd.data stat report --event=...\` (perf's stderr) on that host |

Expected: vmexit \`io\` = ioport total, \`npf\` = MMIO exits + 1 (the guest's one RAM page), \`hlt\` 1, plus a few
\`interrupt\` exits from the host's timer (their number varies by run). Durations are emulation durations (10-100x hardware).
EOF
ls -l "$dest"
