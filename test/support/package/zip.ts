/**
 * Reads a zip file from its central directory (enough to inspect and unpack a Lambda package):
 * its entries, and their contents through node:zlib, so that no `unzip` program is needed.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve, sep } from 'node:path';
import { inflateRawSync } from 'node:zlib';

export interface ZipEntry {
  name: string;
  /** 0: stored, 8: deflated (the two methods a Lambda zip uses). */
  method: number;
  compressedBytes: number;
  bytes: number;
  /** Where the entry's local header starts. */
  localHeader: number;
}

export function readEntries(zip: Buffer, file = 'zip'): ZipEntry[] {
  // End of central directory record: signature 0x06054b50, within the last 64 KiB + 22 bytes.
  let end = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 65_557); i--) {
    if (zip.readUInt32LE(i) === 0x06054b50) {
      end = i;
      break;
    }
  }
  if (end < 0) throw new Error(`${file} is not a zip file`);
  const count = zip.readUInt16LE(end + 10);
  let offset = zip.readUInt32LE(end + 16);
  const entries: ZipEntry[] = [];
  for (let n = 0; n < count; n++) {
    if (zip.readUInt32LE(offset) !== 0x02014b50) throw new Error(`bad central directory entry in ${file}`);
    const nameLength = zip.readUInt16LE(offset + 28);
    const extraLength = zip.readUInt16LE(offset + 30);
    const commentLength = zip.readUInt16LE(offset + 32);
    entries.push({
      name: zip.toString('utf8', offset + 46, offset + 46 + nameLength),
      method: zip.readUInt16LE(offset + 10),
      compressedBytes: zip.readUInt32LE(offset + 20),
      bytes: zip.readUInt32LE(offset + 24),
      localHeader: zip.readUInt32LE(offset + 42),
    });
    offset += 46 + nameLength + extraLength + commentLength;
  }
  return entries;
}

export function zipEntries(file: string): string[] {
  return readEntries(readFileSync(file), file).map((entry) => entry.name);
}

/** One entry's contents (the local header's own name and extra lengths may differ from the central ones). */
function contentOf(zip: Buffer, entry: ZipEntry): Buffer {
  const at = entry.localHeader;
  if (zip.readUInt32LE(at) !== 0x04034b50) throw new Error(`bad local header for ${entry.name}`);
  const start = at + 30 + zip.readUInt16LE(at + 26) + zip.readUInt16LE(at + 28);
  const raw = zip.subarray(start, start + entry.compressedBytes);
  if (entry.method === 0) return Buffer.from(raw);
  if (entry.method === 8) return inflateRawSync(raw);
  throw new Error(`${entry.name}: compression method ${entry.method} is not supported`);
}

/** Unpacks every file of the zip into `dir` (created if missing); returns the entries. */
export function extractZip(file: string, dir: string): ZipEntry[] {
  const zip = readFileSync(file);
  const entries = readEntries(zip, file);
  const root = resolve(dir);
  mkdirSync(root, { recursive: true });
  for (const entry of entries) {
    if (entry.name.endsWith('/')) continue;
    const target = resolve(root, entry.name);
    // A name with `..` must not write outside the folder (zip slip).
    if (!target.startsWith(root + sep)) throw new Error(`${entry.name} points outside ${dir}`);
    const data = contentOf(zip, entry);
    if (data.length !== entry.bytes) throw new Error(`${entry.name}: ${data.length} bytes, expected ${entry.bytes}`);
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, data);
  }
  return entries;
}
