/**
 * What each sha256 pass of a load costs on this machine, over the bench image's own
 * layers: the blob digest (compressed bytes), the diffID (the uncompressed tar
 * stream) and the per-file digests `check --deep` reads (files.sha256: every regular
 * file's content). One streaming read per layer, in this process; only the time
 * inside the hash calls is counted, so decompression and parsing are left out.
 */
import fs from 'node:fs';
import zlib from 'node:zlib';
import { createHash, type Hash } from 'node:crypto';
import { extract as tarExtract } from 'tar-stream';

export interface HashPass {
  name: string;
  bytes: number;
  seconds: number;
}

export async function measureHashPasses(blobs: string[]): Promise<HashPass[]> {
  const passes = { blob: { bytes: 0, ns: 0n }, diffId: { bytes: 0, ns: 0n }, files: { bytes: 0, ns: 0n } };
  const timed = (pass: { bytes: number; ns: bigint }, hash: Hash, chunk: Buffer) => {
    const start = process.hrtime.bigint();
    hash.update(chunk);
    pass.ns += process.hrtime.bigint() - start;
    pass.bytes += chunk.length;
  };
  const finish = (pass: { ns: bigint }, hash: Hash) => {
    const start = process.hrtime.bigint();
    hash.digest();
    pass.ns += process.hrtime.bigint() - start;
  };
  for (const file of blobs) {
    const blobHash = createHash('sha256');
    const diffHash = createHash('sha256');
    const extract = tarExtract();
    extract.on('entry', (header, stream, next) => {
      const fileHash = header.type === 'file' ? createHash('sha256') : null;
      stream.on('data', (chunk: unknown) => {
        if (fileHash) timed(passes.files, fileHash, chunk as Buffer);
      });
      stream.on('end', () => {
        if (fileHash) finish(passes.files, fileHash);
        next();
      });
      stream.resume();
    });
    const done = new Promise<void>((resolve, reject) => {
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    const read = fs.createReadStream(file, { highWaterMark: 256 * 1024 });
    const gunzip = zlib.createGunzip({ chunkSize: 256 * 1024 });
    read.on('data', (chunk) => timed(passes.blob, blobHash, chunk as Buffer));
    gunzip.on('data', (chunk: Buffer) => timed(passes.diffId, diffHash, chunk));
    read.pipe(gunzip).pipe(extract);
    await done;
    finish(passes.blob, blobHash);
    finish(passes.diffId, diffHash);
  }
  return [
    { name: 'blob digest', ...passes.blob },
    { name: 'diffID', ...passes.diffId },
    { name: 'per-file digests (check --deep)', ...passes.files },
  ].map(({ name, bytes, ns }) => ({ name, bytes, seconds: Number(ns) / 1e9 }));
}

export function describeHashPasses(passes: HashPass[]): string {
  const mib = (n: number) => (n / 1024 ** 2).toFixed(0);
  const total = passes.reduce((sum, p) => sum + p.seconds, 0);
  return `sha256 passes of a load, timed in-process over this image (CPU s each; ${total.toFixed(2)} s in all): ${passes
    .map((p) => `${p.name} ${mib(p.bytes)} MiB in ${p.seconds.toFixed(2)} s (${(p.bytes / 1024 ** 2 / p.seconds).toFixed(0)} MiB/s)`)
    .join('; ')}`;
}
