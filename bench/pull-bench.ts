/**
 * `npm run bench -- pull`: `strata pull` of the generated ~1 GiB bench image from a
 * loopback distribution server behind a proxy throttled to a fixed rate, against the
 * two things a pull is made of, each alone, and against skopeo + umoci:
 *
 *  - curl: the same blobs (layers and config) downloaded through the same proxy, three
 *    at a time as strata pulls them, into files — the network part alone;
 *  - strata load: the same image from its tarball (no network) — the unpack part alone;
 *  - strata pull: `strata --root <fresh store> pull -q`, through the proxy;
 *  - skopeo + umoci: `skopeo copy docker://… oci:` then `umoci unpack --rootless`, the
 *    download-then-unpack that Docker users know.
 *
 * A pull that overlaps download and unpack takes about max(curl, load); one that does
 * them in turn, their sum. Setup (the registry, the push, the layout) is not timed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import fsp from 'node:fs/promises';
import http from 'node:http';
import type net from 'node:net';
import path from 'node:path';
import { ensureBenchImage, removeBenchImage, BENCH_TAG, type BenchImage } from './bench-image.js';
import { available, gnuTimeProblem, makeScratchDir, removeTree, run, sleep } from './measure.js';
import { runInterleaved, type OutputContender } from './interleaved-runs.js';
import { skipped, summarize, type BenchContext, type BenchReport, type ContenderResult, type TargetResult } from './report.js';

/** The targets; they live here, never in tests. */
export const PULL_TARGETS = { maxRatioVsMaxPart: 1.1, maxPeakRssMiB: 300 } as const;

/**
 * The link's rate, MiB/s (STRATA_BENCH_PULL_MIBPS overrides it). Chosen so that the
 * download alone takes about as long as `strata load` of the same image here (about
 * 480 MiB of gzip blobs in ~7.5 s on an idle 2-core machine): that is where overlapping
 * download and unpack matters most — a serial pull then takes twice max(curl, load), an
 * overlapped one max(curl, load). A faster link (150–200 MB/s) would make the download a
 * third of the load, and any pull would look like a load; a much slower one, like curl.
 */
const DEFAULT_RATE_MIBPS = 64;
const REPOSITORY = 'bench/pull';
const MAX_CONCURRENT = 3;
/** How far ahead of the link's schedule the proxy may send (ms): more than a timer's granularity. */
const MAX_LEAD_MS = 5;

export async function runPullBench(ctx: BenchContext): Promise<BenchReport> {
  const noTime = await gnuTimeProblem();
  if (noTime !== null) throw new Error(`pull benchmark needs GNU time: ${noTime}`);
  for (const [tool, args] of [
    ['docker-registry', ['--version']],
    ['curl', ['--version']],
  ] as const) {
    if (!(await available(tool, [...args]))) throw new Error(`pull benchmark needs ${tool} (Debian: apt-get install ${tool})`);
  }
  const rate = rateMiBps();
  const image = await ensureBenchImage(ctx.sizeMiB, ctx.log);
  const scratch = await makeScratchDir('strata-bench-pull');
  const stops: (() => Promise<void>)[] = [];
  try {
    const registry = await startRegistry(path.join(scratch, 'registry'));
    stops.push(registry.stop);
    const proxy = await startThrottledProxy(registry.host, rate * 1024 * 1024);
    stops.push(proxy.stop);
    ctx.log(`registry on ${registry.host}, proxy at ${rate} MiB/s on ${proxy.host}; pushing the image with strata (not timed) …`);
    const manifest = await pushBenchImage(ctx, image, registry.host, path.join(scratch, 'push-store'));
    const blobs = [...image.info.layers.map((l) => ({ digest: l.digest, size: l.size })), manifest.config];
    const blobBytes = blobs.reduce((n, b) => n + b.size, 0);

    const contenders: OutputContender[] = [curl(proxy.host, blobs), strataLoad(ctx, image), strataPull(ctx, proxy.host)];
    const missing = (await available('skopeo'))
      ? (await available('umoci'))
        ? null
        : 'umoci is not installed'
      : 'skopeo is not installed';
    if (missing === null) contenders.push(skopeoUmoci(proxy.host));

    const { samples, outputsNote } = await runInterleaved(ctx, scratch, contenders, image.info.contentBytes);
    const base = summarize('', '', samples.get(contenders[0]!.name)!, null);
    const results: ContenderResult[] = contenders.map((c) => summarize(c.name, c.describe, samples.get(c.name)!, base.wallS, base.cpuS));
    if (missing !== null) results.push(skipped(SKOPEO_UMOCI, 'skopeo copy docker://… oci:… && umoci unpack --rootless', missing));
    const mib = (n: number) => `${(n / 1024 ** 2).toFixed(0)} MiB`;
    return {
      name: 'pull',
      title: `strata pull of a ${ctx.sizeMiB} MiB image over a ${rate} MiB/s loopback link vs curl, strata load and skopeo + umoci`,
      contenders: results,
      targets: targets(results),
      notes: [
        `image: ${mib(image.info.contentBytes)} of file content in ${image.info.layers.length} gzip layers; ${mib(blobBytes)} of blobs to download (${(blobBytes / 1024 ** 2 / rate).toFixed(1)} s at the link's rate)`,
        `link: docker-registry 2.8 on 127.0.0.1 behind a proxy in the bench process that sends response bodies at ${rate} MiB/s in all (STRATA_BENCH_PULL_MIBPS), shared by concurrent downloads`,
        `${ctx.runs} measured runs per contender after one warm-up run each, rounds interleaved; wall time is the median, peak RSS the largest run (for skopeo + umoci: the larger of the two)`,
        'ratios are against curl; the target is against max(curl, strata load)',
        outputsNote,
      ],
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    await removeTree(scratch);
    if (ctx.clean) await removeBenchImage(image);
  }
}

function rateMiBps(): number {
  const raw = process.env.STRATA_BENCH_PULL_MIBPS;
  if (raw === undefined || raw === '') return DEFAULT_RATE_MIBPS;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new Error(`STRATA_BENCH_PULL_MIBPS must be a positive number, not ${JSON.stringify(raw)}`);
  return n;
}

const SKOPEO_UMOCI = 'skopeo + umoci';

function curl(host: string, blobs: { digest: string; size: number }[]): OutputContender {
  return {
    name: 'curl (download)',
    describe: `curl --parallel --parallel-max ${MAX_CONCURRENT} of every blob into files, through the proxy`,
    async command(target) {
      await fsp.mkdir(target, { recursive: true });
      const args = ['-sS', '--fail', '--parallel', '--parallel-max', String(MAX_CONCURRENT)];
      for (const [i, blob] of blobs.entries())
        args.push('-o', path.join(target, String(i)), `http://${host}/v2/${REPOSITORY}/blobs/${blob.digest}`);
      return { file: 'curl', args };
    },
    async verify(target) {
      for (const [i, blob] of blobs.entries()) {
        const { size } = await fsp.stat(path.join(target, String(i)));
        if (size !== blob.size) throw new Error(`curl fetched ${size} bytes of ${blob.digest}, not ${blob.size}`);
      }
    },
  };
}

function strataLoad(ctx: BenchContext, image: BenchImage): OutputContender {
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  return {
    name: 'strata load',
    describe: 'node bin/strata.js --root <fresh store> load -q -i image.tar (no network)',
    command: async (target) => ({
      file: process.execPath,
      args: [bin, '--root', target, 'load', '-q', '-i', image.file],
      cwd: ctx.repoRoot,
    }),
    verify: (target) => hasImage(ctx, target, 'strata load'),
  };
}

function strataPull(ctx: BenchContext, host: string): OutputContender {
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  return {
    name: 'strata pull',
    describe: `node bin/strata.js --root <fresh store> pull -q ${host}/${REPOSITORY}:latest`,
    command: async (target) => ({
      file: process.execPath,
      args: [bin, '--root', target, 'pull', '-q', `${host}/${REPOSITORY}:latest`],
      cwd: ctx.repoRoot,
    }),
    verify: (target) => hasImage(ctx, target, 'strata pull'),
  };
}

function skopeoUmoci(host: string): OutputContender {
  const script = `set -euo pipefail
skopeo copy -q --src-tls-verify=false "docker://$1" "oci:$2/layout:latest"
umoci unpack --rootless --image "$2/layout:latest" "$2/bundle"`;
  return {
    name: SKOPEO_UMOCI,
    describe: 'skopeo copy docker://… oci:<fresh>:latest && umoci unpack --rootless (one after the other)',
    async command(target) {
      await fsp.mkdir(target, { recursive: true });
      return { file: 'bash', args: ['-c', script, 'pull', `${host}/${REPOSITORY}:latest`, target] };
    },
    async verify(target) {
      await fsp.access(path.join(target, 'bundle', 'rootfs', 'app', 'data', 'model.bin'));
    },
  };
}

async function hasImage(ctx: BenchContext, store: string, what: string): Promise<void> {
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  const ids = await run({ file: process.execPath, args: [bin, '--root', store, 'images', '-q', '--no-trunc'], cwd: ctx.repoRoot });
  if (!ids.includes('sha256:')) throw new Error(`${what} left no image in the store (images -q printed ${JSON.stringify(ids)})`);
}

/** Loads the bench image into a scratch store and pushes it with strata; returns the pushed manifest's config descriptor. */
async function pushBenchImage(ctx: BenchContext, image: BenchImage, host: string, store: string) {
  const bin = path.join(ctx.repoRoot, 'bin', 'strata.js');
  const strata = (...args: string[]) => run({ file: process.execPath, args: [bin, '--root', store, ...args], cwd: ctx.repoRoot });
  await strata('load', '-q', '-i', image.file);
  await strata('tag', BENCH_TAG, `${host}/${REPOSITORY}:latest`);
  await strata('push', '-q', `${host}/${REPOSITORY}:latest`);
  const manifest = await fetchJson(`http://${host}/v2/${REPOSITORY}/manifests/latest`);
  // The store stays until the scratch dir goes: deleting its ~50,000 files now would make the
  // measured loads and pulls pay ext4's scan past freed inodes (measure.ts INODE_REUSE_COOLDOWN_S).
  return manifest as { config: { digest: string; size: number } };
}

function fetchJson(url: string): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const accept = 'application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json';
    http
      .get(url, { headers: { accept } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          if (res.statusCode !== 200) reject(new Error(`GET ${url}: ${res.statusCode}`));
          else resolve(JSON.parse(Buffer.concat(chunks).toString()));
        });
      })
      .on('error', reject);
  });
}

/** docker-registry serving `dir` on a free loopback port, open (no auth); stopped by `stop`. */
async function startRegistry(dir: string): Promise<{ host: string; stop: () => Promise<void> }> {
  await fsp.mkdir(dir, { recursive: true });
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const config = path.join(dir, 'config.yml');
  await fsp.writeFile(
    config,
    `version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: ${path.join(dir, 'data')}}}\nhttp: {addr: "${host}"}\n`,
  );
  const child = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (c: Buffer) => {
    errors = (errors + c.toString()).slice(-4096);
  });
  const stop = () => stopChild(child);
  for (const deadline = Date.now() + 15_000; Date.now() < deadline; await sleep(0.05)) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited: ${errors.trim()}`);
    if ((await ping(host)) === 200) return { host, stop };
  }
  await stop();
  throw new Error(`docker-registry did not answer on ${host}: ${errors.trim()}`);
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

function ping(host: string): Promise<number | null> {
  return new Promise((resolve) => {
    http
      .get(`http://${host}/v2/`, (res) => {
        res.resume();
        resolve(res.headers['docker-distribution-api-version'] === 'registry/2.0' ? (res.statusCode ?? null) : null);
      })
      .on('error', () => resolve(null));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = http.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/**
 * A proxy whose response bodies share one link of `bytesPerSecond`: each chunk is sent
 * when the link is free and holds it for length/rate, however many downloads run at
 * once. Requests and their bodies pass untouched; the client's Host goes on, so the
 * registry's Locations point back here.
 */
async function startThrottledProxy(target: string, bytesPerSecond: number): Promise<{ host: string; stop: () => Promise<void> }> {
  let linkFreeAt = 0;
  const server = http.createServer((req, res) => {
    const upstream = http.request(`http://${target}${req.url ?? '/'}`, { method: req.method, headers: req.headers });
    upstream.on('error', () => res.destroy());
    upstream.on('response', (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.on('data', (chunk: Buffer) => {
        const now = performance.now();
        linkFreeAt = Math.max(now, linkFreeAt) + (chunk.length / bytesPerSecond) * 1000;
        up.pause();
        const send = () => res.write(chunk, () => up.resume());
        // The chunk goes once the link has carried what came before it. A few ms of lead
        // are let through at once: a timer per 64 KiB chunk (1 ms at the least) would
        // itself cap each download near 64 MB/s, whatever the rate.
        const wait = linkFreeAt - now - (chunk.length / bytesPerSecond) * 1000;
        if (wait <= MAX_LEAD_MS) send();
        else setTimeout(send, wait);
      });
      up.on('end', () => setTimeout(() => res.end(), Math.max(0, linkFreeAt - performance.now())));
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const host = `127.0.0.1:${(server.address() as net.AddressInfo).port}`;
  return {
    host,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function targets(results: ContenderResult[]): TargetResult[] {
  const byName = (name: string) => results.find((r) => r.name === name)!;
  const [download, load, pull, peer] = [byName('curl (download)'), byName('strata load'), byName('strata pull'), byName(SKOPEO_UMOCI)];
  const floor = Math.max(download.wallS!, load.wallS!);
  const out: TargetResult[] = [
    {
      status: pull.wallS! <= PULL_TARGETS.maxRatioVsMaxPart * floor ? 'PASS' : 'MISS',
      target: `strata pull within ${PULL_TARGETS.maxRatioVsMaxPart}x of max(curl, strata load): download and unpack overlap`,
      found: `${(pull.wallS! / floor).toFixed(2)}x (${pull.wallS!.toFixed(2)} s vs curl ${download.wallS!.toFixed(2)} s, load ${load.wallS!.toFixed(2)} s; sum ${(download.wallS! + load.wallS!).toFixed(2)} s)`,
    },
    peer.skipped !== undefined
      ? { status: 'SKIP', target: 'strata pull faster than skopeo copy + umoci unpack', found: peer.skipped }
      : {
          status: pull.wallS! < peer.wallS! ? 'PASS' : 'MISS',
          target: 'strata pull faster than skopeo copy + umoci unpack',
          found: `${(pull.wallS! / peer.wallS!).toFixed(2)}x of their time (${pull.wallS!.toFixed(2)} s vs ${peer.wallS!.toFixed(2)} s)`,
        },
    {
      status: pull.peakRssMiB! < PULL_TARGETS.maxPeakRssMiB ? 'PASS' : 'MISS',
      target: `strata pull peak RSS under ${PULL_TARGETS.maxPeakRssMiB} MiB`,
      found: `${pull.peakRssMiB!.toFixed(1)} MiB`,
    },
  ];
  return out;
}
