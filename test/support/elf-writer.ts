// Test support: a minimal ELF64 vmlinux (ET_EXEC, one executable PT_LOAD,
// .text as NOBITS, .symtab/.strtab, an optional GNU build-id note) made from
// a symbol list, and the same file stripped of its symbol table.
import { writeFileSync } from 'node:fs';

export interface ElfSymbol {
  name: string;
  addr: bigint;
  size: bigint;
  global?: boolean;
}

export function writeVmlinux(path: string, text: { start: bigint; end: bigint }, symbols: ElfSymbol[], opts: { strip?: boolean; buildId?: string } = {}) {
  const shstr = Buffer.from('\0.text\0.symtab\0.strtab\0.shstrtab\0.note.gnu.build-id\0', 'latin1');
  const nameOff = (n: string) => shstr.indexOf(Buffer.from(`${n}\0`, 'latin1'));
  const strParts: Buffer[] = [Buffer.from([0])];
  let strLen = 1;
  const syms: Buffer[] = [Buffer.alloc(24)];
  for (const s of symbols) {
    const st = Buffer.alloc(24);
    st.writeUInt32LE(strLen, 0);
    st.writeUInt8(((s.global ?? true) ? 1 : 0) << 4 | 2, 4); // STB_GLOBAL/LOCAL, STT_FUNC
    st.writeUInt16LE(1, 6); // .text
    st.writeBigUInt64LE(s.addr, 8);
    st.writeBigUInt64LE(s.size, 16);
    syms.push(st);
    const nb = Buffer.from(`${s.name}\0`, 'latin1');
    strParts.push(nb);
    strLen += nb.length;
  }
  const symtab = Buffer.concat(syms);
  const strtab = Buffer.concat(strParts);
  let note = Buffer.alloc(0);
  if (opts.buildId) {
    const id = Buffer.from(opts.buildId, 'hex');
    note = Buffer.alloc(12 + 4 + id.length);
    note.writeUInt32LE(4, 0);
    note.writeUInt32LE(id.length, 4);
    note.writeUInt32LE(3, 8);
    note.write('GNU\0', 12, 'latin1');
    id.copy(note, 16);
  }
  const ehdr = 64, phdr = 56;
  let off = ehdr + phdr;
  const noteOff = off; off += note.length;
  const symOff = off; off += opts.strip ? 0 : symtab.length;
  const strOff = off; off += opts.strip ? 0 : strtab.length;
  const shstrOff = off; off += shstr.length;
  off = (off + 7) & ~7;
  const shOff = off;
  const sections: Buffer[] = [Buffer.alloc(64)];
  const sh = (name: string, type: number, flags: bigint, addr: bigint, o: number, size: number, link = 0, info = 0, entsize = 0) => {
    const b = Buffer.alloc(64);
    b.writeUInt32LE(nameOff(name), 0);
    b.writeUInt32LE(type, 4);
    b.writeBigUInt64LE(flags, 8);
    b.writeBigUInt64LE(addr, 16);
    b.writeBigUInt64LE(BigInt(o), 24);
    b.writeBigUInt64LE(BigInt(size), 32);
    b.writeUInt32LE(link, 40);
    b.writeUInt32LE(info, 44);
    b.writeBigUInt64LE(1n, 48);
    b.writeBigUInt64LE(BigInt(entsize), 56);
    sections.push(b);
  };
  sh('.text', 8, 6n, text.start, 0x1000, Number(text.end - text.start)); // NOBITS, AX
  let shstrIndex: number;
  if (opts.strip) {
    sh('.shstrtab', 3, 0n, 0n, shstrOff, shstr.length);
    shstrIndex = 2;
  } else {
    sh('.symtab', 2, 0n, 0n, symOff, symtab.length, 3, 1, 24);
    sh('.strtab', 3, 0n, 0n, strOff, strtab.length);
    sh('.shstrtab', 3, 0n, 0n, shstrOff, shstr.length);
    shstrIndex = 4;
  }
  if (note.length) sh('.note.gnu.build-id', 7, 2n, 0n, noteOff, note.length);
  const h = Buffer.alloc(ehdr);
  h.write('\x7fELF', 0, 'latin1');
  h.writeUInt8(2, 4); h.writeUInt8(1, 5); h.writeUInt8(1, 6);
  h.writeUInt16LE(2, 16); // ET_EXEC
  h.writeUInt16LE(62, 18); // x86-64
  h.writeUInt32LE(1, 20);
  h.writeBigUInt64LE(text.start, 24);
  h.writeBigUInt64LE(BigInt(ehdr), 32);
  h.writeBigUInt64LE(BigInt(shOff), 40);
  h.writeUInt16LE(ehdr, 52); h.writeUInt16LE(phdr, 54); h.writeUInt16LE(1, 56);
  h.writeUInt16LE(64, 58); h.writeUInt16LE(sections.length, 60); h.writeUInt16LE(shstrIndex, 62);
  const p = Buffer.alloc(phdr);
  p.writeUInt32LE(1, 0); p.writeUInt32LE(5, 4); // PT_LOAD, R+X
  p.writeBigUInt64LE(0x1000n, 8); p.writeBigUInt64LE(text.start, 16); p.writeBigUInt64LE(text.start, 24);
  p.writeBigUInt64LE(0n, 32); p.writeBigUInt64LE(text.end - text.start, 40); p.writeBigUInt64LE(0x1000n, 48);
  const body = Buffer.concat([h, p, note, opts.strip ? Buffer.alloc(0) : symtab, opts.strip ? Buffer.alloc(0) : strtab, shstr]);
  const pad = Buffer.alloc(shOff - body.length);
  writeFileSync(path, Buffer.concat([body, pad, ...sections]));
}
