// One bytea value read as bytes, through `COPY (SELECT …) TO STDOUT (FORMAT binary)` (pg-copy-streams).
//
// A plain query sends bytea as hex text: node-postgres gathers the whole message (twice the value's size) into a
// receive buffer grown by doubling, decodes it to a string and the string to bytes. For a 1 MiB value that is about
// 8 MiB of short-lived memory, most of it outside V8's heap, where it waits for a collection: the export package
// reads every sealed chunk this way three times per build. COPY in binary format sends the bytes as they are, in the
// socket's own pieces (about 64 KiB), so reading a value costs the value and little else.
//
// The binary COPY format (PostgreSQL's "COPY" reference, "Binary Format"): an 11-byte signature, a 32-bit flags
// field and a 32-bit header-extension length (then that many bytes); each tuple is a 16-bit field count (-1 ends
// the data) and per field a 32-bit length (-1: NULL) and the bytes.
import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';

const SIGNATURE = Buffer.from('PGCOPY\n\xff\r\n\0', 'latin1');

/** The first column of the first row that `select` (one bytea column; no parameters) returns, or undefined. */
export async function readBytea(pool: pg.Pool, select: (literal: (value: string) => string) => string): Promise<Buffer | undefined> {
  // Checked out through the pool, so the caller's tenant scope names the connection's tenant (src/db/client.ts).
  const client = await pool.connect();
  let failed: Error | undefined;
  try {
    const stream = client.query(copyTo(`COPY (${select((v) => client.escapeLiteral(v))}) TO STDOUT (FORMAT binary)`));
    const pieces: Buffer[] = [];
    for await (const piece of stream) pieces.push(piece as Buffer);
    return firstValue(pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces));
  } catch (err) {
    failed = err as Error;
    throw err;
  } finally {
    // A client whose COPY failed midway is not reused: its connection may be mid-message.
    client.release(failed);
  }
}

function firstValue(data: Buffer): Buffer | undefined {
  const bad = () => new Error('unexpected COPY binary data');
  if (data.length < SIGNATURE.length + 8 || !data.subarray(0, SIGNATURE.length).equals(SIGNATURE)) throw bad();
  let at = SIGNATURE.length + 4;
  at += 4 + data.readUInt32BE(at);
  if (data.length < at + 2) throw bad();
  const fields = data.readInt16BE(at);
  if (fields === -1) return undefined;
  if (fields < 1 || data.length < at + 6) throw bad();
  const length = data.readInt32BE(at + 2);
  if (length === -1) return undefined;
  const start = at + 6;
  if (length < 0 || data.length < start + length) throw bad();
  // A view of the received bytes: a single piece is one value plus a few bytes of framing.
  return data.subarray(start, start + length);
}
