// The error type every kvmlens failure surfaces as. The native core
// constructs it too (see native/src/addon/js_errors.h), so a parse error in
// C++ arrives here with its code and byte offset intact.
export type KvmlensErrorCode = 'EPARSE' | 'ESETUP' | 'EARG' | 'EINTERNAL' | 'ENOENT' | 'EUSAGE';

export class KvmlensError extends Error {
  readonly code: KvmlensErrorCode;
  readonly offset?: number;
  file?: string;

  constructor(message: string, code: KvmlensErrorCode = 'EINTERNAL', offset?: number) {
    super(message);
    this.name = 'KvmlensError';
    this.code = code;
    if (typeof offset === 'number') this.offset = offset;
  }

  /** One line: "FILE: offset N: message" (file and offset when known). */
  describe(): string {
    const where = [this.file, this.offset !== undefined ? `offset ${this.offset}` : undefined]
      .filter(Boolean)
      .join(': ');
    return where ? `${where}: ${this.message}` : this.message;
  }
}
