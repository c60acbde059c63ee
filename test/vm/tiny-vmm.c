// tiny-vmm: the smallest VMM that makes a known set of KVM exits, so perf and
// kvmlens can be checked against ground truth on a real (emulated) KVM host.
//
//   tiny-vmm [N_OUT [N_IN [N_MMIO_W [N_MMIO_R]]]]     (defaults 1000 500 100 50)
//
// One vCPU runs 16-bit real-mode code that does N_OUT `out` to port 0x10,
// N_IN `in` from port 0x11, N_MMIO_W byte writes cycling over the unmapped
// guest-physical addresses 0x20000/8/10/18, N_MMIO_R byte reads alternating
// 0x21000/0x21008, one `hlt`, and finally one `out` to port 0x12 that tells
// us to stop. Every one of these exits to us (no in-kernel irqchip, no MMIO
// device in the kernel), and we count them ourselves. The counts are printed
// as JSON on stdout with keys spelled the way `perf kvm stat report` spells
// them (`0x10:POUT`, `0x20000:W`).
//
// Why the terminator: perf pairs an exit with the next kvm_entry of the same
// thread, so the very last exit of a VM is never reported. Making that last
// exit a separate "done" port keeps the hlt (re-entered after) and all the
// counted I/O inside what perf and kvmlens report; the terminator is listed
// apart in the JSON and is expected to be missing from their tables.
//
// Build: gcc -static -O2 -o tiny-vmm tiny-vmm.c
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define MEM_SIZE 0x10000u   // one slot, guest-physical 0..64 KiB; 0x20000+ is unmapped = MMIO
#define CODE_GPA 0x1000u    // code and its parameters share one page: one RAM fault-in
#define PARAM_GPA 0x1800u   // u16 n_out, n_in, n_mmio_w, n_mmio_r

// The guest. Numbers are read from PARAM_GPA so one binary serves any counts.
__asm__(
    ".pushsection .rodata\n"
    ".globl guest_code\n"
    "guest_code:\n"
    ".code16\n"
    "  xorw %ax, %ax\n"
    "  movw %ax, %ds\n"
    "  movw $0x2000, %ax\n"          // ES base 0x20000: the MMIO window
    "  movw %ax, %es\n"
    "  movw 0x1800, %cx\n"
    "  jcxz 2f\n"
    "1: movb %cl, %al\n"
    "  outb %al, $0x10\n"
    "  loop 1b\n"
    "2: movw 0x1802, %cx\n"
    "  jcxz 4f\n"
    "3: inb $0x11, %al\n"
    "  loop 3b\n"
    "4: movw 0x1804, %cx\n"
    "  xorw %bx, %bx\n"
    "  jcxz 6f\n"
    "5: movb %cl, %es:(%bx)\n"       // write 0x20000 + {0,8,0x10,0x18}
    "  addw $8, %bx\n"
    "  andw $0x18, %bx\n"
    "  loop 5b\n"
    "6: movw 0x1806, %cx\n"
    "  movw $0x1000, %bx\n"
    "  jcxz 8f\n"
    "7: movb %es:(%bx), %al\n"       // read 0x21000 / 0x21008
    "  xorw $8, %bx\n"
    "  loop 7b\n"
    "8: hlt\n"                      // KVM skips it before exiting; we re-enter
    "  outb %al, $0x12\n"           // terminator: the one exit perf cannot pair
    "9: jmp 9b\n"
    ".code64\n"
    ".globl guest_code_end\n"
    "guest_code_end:\n"
    ".popsection\n");
extern const unsigned char guest_code[], guest_code_end[];

struct counter { char key[40]; unsigned long n; };
static struct counter io_keys[16], mmio_keys[64];
static size_t n_io_keys, n_mmio_keys;

static void bump(struct counter *tab, size_t *len, size_t cap, const char *key) {
  for (size_t i = 0; i < *len; i++)
    if (strcmp(tab[i].key, key) == 0) { tab[i].n++; return; }
  if (*len == cap) { fprintf(stderr, "tiny-vmm: too many distinct keys\n"); exit(1); }
  snprintf(tab[*len].key, sizeof tab[*len].key, "%s", key);
  tab[(*len)++].n = 1;
}

static void print_keys(const char *name, const struct counter *tab, size_t len) {
  printf("  \"%s\": {", name);
  for (size_t i = 0; i < len; i++) printf("%s\"%s\": %lu", i ? ", " : "", tab[i].key, tab[i].n);
  printf("},\n");
}

static int xioctl(int fd, unsigned long req, void *arg, const char *what) {
  int r = ioctl(fd, req, arg);
  if (r < 0) { fprintf(stderr, "tiny-vmm: %s: %s\n", what, strerror(errno)); exit(1); }
  return r;
}

static unsigned arg_count(int argc, char **argv, int i, unsigned dflt) {
  if (argc <= i) return dflt;
  char *end;
  unsigned long v = strtoul(argv[i], &end, 0);
  if (*end || v > 0xffff) { fprintf(stderr, "tiny-vmm: counts are 0..65535 (the guest loops on CX)\n"); exit(2); }
  return (unsigned)v;
}

int main(int argc, char **argv) {
  uint16_t want[4] = {arg_count(argc, argv, 1, 1000), arg_count(argc, argv, 2, 500),
                      arg_count(argc, argv, 3, 100), arg_count(argc, argv, 4, 50)};

  int kvm = open("/dev/kvm", O_RDWR | O_CLOEXEC);
  if (kvm < 0) { perror("tiny-vmm: /dev/kvm"); return 1; }
  if (ioctl(kvm, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) { fprintf(stderr, "tiny-vmm: unexpected KVM API version\n"); return 1; }
  int vm = xioctl(kvm, KVM_CREATE_VM, 0, "KVM_CREATE_VM");

  uint8_t *mem = mmap(NULL, MEM_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) { perror("tiny-vmm: mmap"); return 1; }
  memcpy(mem + CODE_GPA, guest_code, (size_t)(guest_code_end - guest_code));
  memcpy(mem + PARAM_GPA, want, sizeof want);
  struct kvm_userspace_memory_region region = {
      .slot = 0, .guest_phys_addr = 0, .memory_size = MEM_SIZE, .userspace_addr = (uintptr_t)mem};
  xioctl(vm, KVM_SET_USER_MEMORY_REGION, &region, "KVM_SET_USER_MEMORY_REGION");

  int vcpu = xioctl(vm, KVM_CREATE_VCPU, 0, "KVM_CREATE_VCPU");
  int run_size = xioctl(kvm, KVM_GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
  struct kvm_run *run = mmap(NULL, (size_t)run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED) { perror("tiny-vmm: mmap kvm_run"); return 1; }

  // Flat real mode: every segment base 0, start at 0:CODE_GPA.
  struct kvm_sregs sregs;
  xioctl(vcpu, KVM_GET_SREGS, &sregs, "KVM_GET_SREGS");
  struct kvm_segment *segs[] = {&sregs.cs, &sregs.ds, &sregs.es, &sregs.fs, &sregs.gs, &sregs.ss};
  for (size_t i = 0; i < sizeof segs / sizeof *segs; i++) { segs[i]->base = 0; segs[i]->selector = 0; }
  xioctl(vcpu, KVM_SET_SREGS, &sregs, "KVM_SET_SREGS");
  struct kvm_regs regs = {.rip = CODE_GPA, .rflags = 2};
  xioctl(vcpu, KVM_SET_REGS, &regs, "KVM_SET_REGS");

  unsigned long n_io = 0, n_mmio = 0, n_hlt = 0, n_intr = 0, n_runs = 0;
  int done = 0;
  char key[40];
  while (!done) {
    n_runs++;
    if (ioctl(vcpu, KVM_RUN, 0) < 0) {
      if (errno == EINTR || errno == EAGAIN) { n_intr++; continue; }
      perror("tiny-vmm: KVM_RUN");
      return 1;
    }
    switch (run->exit_reason) {
    case KVM_EXIT_IO:
      if (run->io.port == 0x12 && run->io.direction == KVM_EXIT_IO_OUT) { done = 1; break; }
      n_io++;
      snprintf(key, sizeof key, "0x%x:%s", run->io.port, run->io.direction == KVM_EXIT_IO_OUT ? "POUT" : "PIN");
      bump(io_keys, &n_io_keys, 16, key);
      if (run->io.direction == KVM_EXIT_IO_IN)
        memset((uint8_t *)run + run->io.data_offset, 0, (size_t)run->io.size * run->io.count);
      break;
    case KVM_EXIT_MMIO:
      n_mmio++;
      snprintf(key, sizeof key, "0x%llx:%s", (unsigned long long)run->mmio.phys_addr, run->mmio.is_write ? "W" : "R");
      bump(mmio_keys, &n_mmio_keys, 64, key);
      if (!run->mmio.is_write) memset(run->mmio.data, 0, sizeof run->mmio.data);
      break;
    case KVM_EXIT_HLT:
      n_hlt++;
      break;
    case KVM_EXIT_INTR:
      n_intr++;
      break;
    default:
      fprintf(stderr, "tiny-vmm: unexpected exit_reason %u (fail_entry reason 0x%llx, internal suberror %u)\n",
              run->exit_reason, (unsigned long long)run->fail_entry.hardware_entry_failure_reason,
              run->internal.suberror);
      return 1;
    }
  }

  printf("{\n  \"pid\": %d,\n  \"vcpu_id\": 0,\n", getpid());
  printf("  \"params\": {\"out\": %u, \"in\": %u, \"mmio_write\": %u, \"mmio_read\": %u},\n", want[0], want[1], want[2], want[3]);
  printf("  \"exits\": {\"io\": %lu, \"mmio\": %lu, \"hlt\": %lu, \"intr\": %lu, \"kvm_run_calls\": %lu},\n",
         n_io, n_mmio, n_hlt, n_intr, n_runs);
  print_keys("ioport", io_keys, n_io_keys);
  print_keys("mmio", mmio_keys, n_mmio_keys);
  // CODE_GPA's page is the only RAM the guest touches: one npf besides the MMIO ones.
  printf("  \"guest_ram_pages\": 1,\n");
  printf("  \"terminator\": {\"0x12:POUT\": 1}\n}\n");
  fflush(stdout);
  // The counts must be what the guest code was told to do; anything else is a bug here.
  int ok = n_io == (unsigned long)want[0] + want[1] && n_mmio == (unsigned long)want[2] + want[3] && n_hlt == 1;
  if (!ok) fprintf(stderr, "tiny-vmm: exit counts differ from the requested ones\n");
  return ok ? 0 : 3;
}
