/**
 * Byte strings of a capture: UTF-8 and latin1 text of byte ranges, an FNV-1a hash, and the open-addressing tables that
 * intern addresses and COMMs by their bytes (or a dotted quad by its value), so a row needs neither a string nor a Map
 * lookup.
 */

/** FNV-1a of a byte range. */
export function hashBytes(buf: Uint8Array, a: number, e: number): number {
  let h = 0x811c9dc5;
  for (let i = a; i < e; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
  return h;
}

export function sameBytes(stored: Uint8Array, buf: Uint8Array, a: number, e: number): boolean {
  if (stored.length !== e - a) return false;
  for (let i = 0; i < stored.length; i++) if (stored[i] !== buf[a + i]) return false;
  return true;
}

export interface Interned {
  /** A copy of the bytes as printed. */
  readonly bytes: Uint8Array;
}

/**
 * Byte strings interned by hash (open addressing, linear probing): finding a row's address needs neither a string
 * nor a Map lookup, which are most of the cost of a row otherwise.
 */
export class InternTable<T extends Interned> {
  readonly items: T[] = [];
  private slots = new Int32Array(1024);
  private hashes = new Int32Array(1024);
  private vacant = 0;

  /** The item with these bytes, or undefined (then `add` may follow for the same bytes and hash). */
  find(buf: Uint8Array, a: number, e: number, hash: number): T | undefined {
    const mask = this.slots.length - 1;
    for (let i = hash & mask; ; i = (i + 1) & mask) {
      const slot = this.slots[i]!;
      if (slot === 0) {
        this.vacant = i;
        return undefined;
      }
      if (this.hashes[i] === hash) {
        const item = this.items[slot - 1]!;
        if (sameBytes(item.bytes, buf, a, e)) return item;
      }
    }
  }

  add(item: T, hash: number): void {
    this.items.push(item);
    this.slots[this.vacant] = this.items.length;
    this.hashes[this.vacant] = hash;
    if (this.items.length * 2 > this.slots.length) this.grow();
  }

  private grow(): void {
    const oldSlots = this.slots;
    const oldHashes = this.hashes;
    this.slots = new Int32Array(oldSlots.length * 2);
    this.hashes = new Int32Array(oldSlots.length * 2);
    const mask = this.slots.length - 1;
    for (let j = 0; j < oldSlots.length; j++) {
      if (oldSlots[j] === 0) continue;
      let i = oldHashes[j]! & mask;
      while (this.slots[i] !== 0) i = (i + 1) & mask;
      this.slots[i] = oldSlots[j]!;
      this.hashes[i] = oldHashes[j]!;
    }
  }
}

/** Items keyed by a non-negative integer below 2^32 (open addressing, linear probing). */
export class IntTable<T> {
  private keys = new Float64Array(1024).fill(-1);
  private values: Array<T | undefined> = new Array<T | undefined>(1024);
  private size = 0;
  private vacant = 0;

  find(key: number): T | undefined {
    const mask = this.keys.length - 1;
    for (let i = (Math.imul(key, 0x9e3779b1) >>> 0) & mask; ; i = (i + 1) & mask) {
      const k = this.keys[i]!;
      if (k === key) return this.values[i];
      if (k === -1) {
        this.vacant = i;
        return undefined;
      }
    }
  }

  /** After a `find` of the same key that returned undefined. */
  add(key: number, value: T): void {
    this.keys[this.vacant] = key;
    this.values[this.vacant] = value;
    this.size++;
    if (this.size * 2 > this.keys.length) {
      const keys = this.keys;
      const values = this.values;
      this.keys = new Float64Array(keys.length * 2).fill(-1);
      this.values = new Array<T | undefined>(keys.length * 2);
      const mask = this.keys.length - 1;
      for (let j = 0; j < keys.length; j++) {
        if (keys[j] === -1) continue;
        let i = (Math.imul(keys[j]!, 0x9e3779b1) >>> 0) & mask;
        while (this.keys[i] !== -1) i = (i + 1) & mask;
        this.keys[i] = keys[j]!;
        this.values[i] = values[j];
      }
    }
  }
}

/** Latin-1 text of bytes: one character per byte, so it turns back into the very same bytes. */
export const latin1 = (bytes: Uint8Array): string =>
  Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('latin1');

/** UTF-8 text of a byte range (invalid sequences become U+FFFD, as a TextDecoder would make them). */
export function decode(buf: Uint8Array, a: number, e: number): string {
  return Buffer.from(buf.buffer, buf.byteOffset + a, e - a).toString('utf8');
}
