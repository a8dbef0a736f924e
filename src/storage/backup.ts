import { createReadStream } from 'node:fs';
import { readdir, stat, unlink } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, dirname } from 'node:path';
import { ConfigError, QuorateError, ErrorCode, members, type Entry, type HardState, type SnapshotMeta } from '../core/index.js';
import { Failpoints } from './file/failpoints.js';
import { FileStorage } from './file/file-storage.js';
import { realFileLayer } from './file/fs-layer.js';
import { FileRecoveryMarker } from './file/recovery-marker.js';
import { readSnapshotFile } from './file/snapshot-file.js';
import { tmpSuffix } from './file/segment-names.js';

/**
 * Off-cluster backups (DESIGN.md: redundancy): `quorate snapshot save` fetches the newest
 * snapshot file from a live member, `quorate snapshot restore` seeds a new data directory from
 * one. Both verify the checksum before anything is kept.
 */

export interface RestoreResult {
  readonly meta: SnapshotMeta;
  readonly dataBytes: number;
  /** The directory carries the lost-state marker: its member never votes again until re-added. */
  readonly lostState: boolean;
}

export interface RestoreOptions {
  /**
   * Write the durable lost-state marker (default true): the member restored into a live cluster
   * cannot know what it voted, promised or acknowledged after the backup was taken, so it never
   * votes again until a membership change re-adds it (src/storage/file/recovery-marker.ts).
   * False only when every member of a brand-new cluster is restored from this one snapshot
   * (`quorate snapshot restore --new-cluster`): nobody in it ever promised anything.
   */
  readonly lostState?: boolean;
  /**
   * A hard state, and entries after the snapshot, that the protocol needs to start from it (the
   * protocol's own shape: src/node/restore.ts builds it), written after the snapshot.
   */
  readonly seed?: { readonly hardState: HardState; readonly entries: readonly Entry[] };
}

/**
 * Seeds an empty (or missing) data directory from a verified snapshot file. The marker goes
 * first: a restore cut short leaves a directory that is lost (safe) or empty, never one that
 * votes with a forgotten vote. A restore that fails part way leaves a directory to delete before
 * trying again.
 */
export async function restoreSnapshot(file: string, dataDir: string, id?: string, options: RestoreOptions = {}): Promise<RestoreResult> {
  const lostState = options.lostState ?? true;
  const info = await readSnapshotFile(file);
  if (id !== undefined && !members(info.meta.config).includes(id)) {
    throw new ConfigError(`--id ${id} is not a member of the snapshot's configuration (${members(info.meta.config).join(', ')})`);
  }
  const existing = await readdir(dataDir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return [];
    throw err;
  });
  if (existing.length > 0) {
    throw new ConfigError(`data directory ${dataDir} is not empty: restore only seeds a fresh directory (move it aside first)`);
  }
  const storage = new FileStorage(dataDir, { failpoints: new Failpoints(undefined), layer: realFileLayer });
  await storage.open();
  try {
    if (lostState) await new FileRecoveryMarker(dataDir, realFileLayer).set();
    // Streamed from the verified file: a large snapshot is never whole in memory.
    const data = createReadStream(file, { start: info.dataOffset, end: info.dataOffset + info.dataLength - 1, highWaterMark: 1 << 20 });
    const source = await storage.saveSnapshot(info.meta, info.dataLength === 0 ? new Uint8Array(0) : data);
    if (options.seed !== undefined) await storage.save(options.seed.hardState, options.seed.entries);
    return { meta: source.meta, dataBytes: source.sizeBytes, lostState };
  } finally {
    await storage.close();
  }
}

export class FetchSnapshotError extends QuorateError {
  override readonly name = 'FetchSnapshotError';
  constructor(message: string, options?: { cause?: unknown }) {
    super(ErrorCode.Io, message, options);
  }
}

export interface SaveResult {
  readonly endpoint: string;
  readonly meta: SnapshotMeta;
  readonly fileBytes: number;
}

function snapshotUrl(endpoint: string): URL {
  let url: URL;
  try {
    url = new URL('/v1/snapshot', endpoint);
  } catch (cause) {
    throw new ConfigError(`endpoint ${endpoint} is not a URL (expected http://host:port)`, { cause });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ConfigError(`endpoint ${endpoint}: only http and https are supported`);
  return url;
}

/**
 * TLS for https:// endpoints (the shape of QuorateClient's `tls`, which storage does not import):
 * `ca` verifies the nodes' client-port certificates (the system's CAs otherwise); `cert` and `key`
 * are this client's, for nodes started with --client-ca.
 */
export interface SnapshotTls {
  readonly ca?: string | Buffer;
  readonly cert?: string | Buffer;
  readonly key?: string | Buffer;
}

/**
 * GET `url`, resolving with the response once its head arrives. node:http(s) rather than fetch:
 * fetch takes no CA or client certificate without undici's dispatcher, which is not a dependency.
 * The signal bounds the whole exchange, body included.
 */
function get(url: URL, tls: SnapshotTls, token: string | null, signal: AbortSignal): Promise<IncomingMessage> {
  const headers = token === null ? {} : { authorization: `Bearer ${token}` };
  return new Promise((resolve, reject) => {
    const req = url.protocol === 'https:'
      ? httpsRequest(url, { signal, agent: false, headers, ...tls }, resolve)
      : httpRequest(url, { signal, agent: false, headers }, resolve);
    req.once('error', reject);
    req.end();
  });
}

/**
 * Fetches `GET /v1/snapshot` from the first endpoint that answers with a snapshot whose checksum
 * verifies, and writes it to `file` atomically (FILE.tmp, fsync, verify, rename, directory fsync).
 */
export async function saveSnapshotFromEndpoints(file: string, endpoints: readonly string[], timeoutMs = 60_000, tls: SnapshotTls = {}, token: string | null = null): Promise<SaveResult> {
  if (endpoints.length === 0) throw new ConfigError('--endpoints: give at least one http://host:port');
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0) throw new ConfigError(`--timeout must be a positive number of milliseconds, got ${timeoutMs}`);
  const urls = endpoints.map(snapshotUrl);
  const failures: string[] = [];
  const tmp = file + tmpSuffix;
  for (const [i, url] of urls.entries()) {
    try {
      // A download needs admin on the whole key space while authentication is on.
      const res = await get(url, tls, token, AbortSignal.timeout(timeoutMs));
      const status = res.statusCode ?? 0;
      if (status < 200 || status > 299) {
        failures.push(`${endpoints[i]}: HTTP ${status}${await refusalOf(res)}`);
        continue;
      }
      const f = await realFileLayer.openFile(tmp, 'create');
      try {
        await f.truncate(0);
        let at = 0;
        for await (const chunk of res as AsyncIterable<Buffer>) {
          await f.write(chunk, at);
          at += chunk.length;
        }
        await f.sync();
      } finally {
        await f.close();
      }
      const info = await readSnapshotFile(tmp);
      await realFileLayer.rename(tmp, file);
      await realFileLayer.syncDir(dirname(file));
      return { endpoint: endpoints[i] as string, meta: info.meta, fileBytes: (await stat(file)).size };
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      if (err instanceof ConfigError) throw err;
      failures.push(`${endpoints[i]}: ${(err as Error).message}`);
    }
  }
  throw new FetchSnapshotError(`no endpoint gave a valid snapshot for ${basename(file)}: ${failures.join('; ')}`);
}

/** Error answers are small; a larger one is not read for its reason. */
const refusalBytesMax = 64 * 1024;

/** ": code: message" of an error answer's JSON body (a 401 or 403 says why), else "". Consumes the body. */
async function refusalOf(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of res as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > refusalBytesMax) {
        res.destroy();
        return '';
      }
      chunks.push(chunk);
    }
    const e = (JSON.parse(Buffer.concat(chunks).toString('utf8')) as { error?: { code?: unknown; message?: unknown } }).error;
    return typeof e?.code === 'string' && typeof e.message === 'string' ? `: ${e.code}: ${e.message}` : '';
  } catch {
    return '';
  }
}
