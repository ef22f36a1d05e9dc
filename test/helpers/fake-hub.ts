import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** One file of a fake repo, with how the hub should misbehave serving it. */
export interface HubFile {
  readonly data: Buffer;
  /** Stored in LFS (sha256 published) rather than Git (blob sha1). */
  readonly lfs: boolean;
  /** Serve different bytes than the listing's hash says. */
  corrupt?: boolean;
  /** Drop the connection after this many bytes, on the first request only. */
  dropAfter?: number;
  /** Keep dropping every request (a dead network). */
  alwaysDrop?: boolean;
  /** Send `after` bytes, then hold the rest until `open` resolves (a download seen mid-way). */
  gate?: { readonly after: number; readonly open: Promise<void> };
}

export interface HubRepo {
  readonly sha: string;
  readonly files: Map<string, HubFile>;
  /** A token the repo requires (a gated repo); none when public. */
  readonly token?: string;
  /** A gated repo whose terms the token's owner has not accepted: 403 even with the token. */
  readonly forbidden?: boolean;
}

export interface CivitaiVersion {
  readonly id: number;
  readonly modelId: number;
  readonly baseModel: string;
  readonly fileName: string;
  readonly data: Buffer;
  /** Publish this SHA256 instead of the real one. */
  readonly sha256?: string;
  readonly token?: string;
}

const gitSha1 = (data: Buffer): string =>
  createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');
const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** A repo's files from a folder on disk (`models/tiny`); `.onnx` files go to LFS. */
export function repoFromFolder(
  dir: string,
  extra: Record<string, Buffer> = {},
): Map<string, HubFile> {
  const files = new Map<string, HubFile>();
  const walk = (sub: string): void => {
    for (const entry of readdirSync(path.join(dir, sub))) {
      const rel = sub ? `${sub}/${entry}` : entry;
      if (statSync(path.join(dir, rel)).isDirectory()) walk(rel);
      else {
        const data = readFileSync(path.join(dir, rel));
        files.set(rel, { data, lfs: rel.endsWith('.onnx') || data.length > 100_000 });
      }
    }
  };
  walk('');
  for (const [name, data] of Object.entries(extra)) files.set(name, { data, lfs: true });
  return files;
}

/**
 * A local stand-in for huggingface.co and civitai.com on loopback, implementing the endpoints
 * Pictor calls in their documented shapes: `GET /api/models/{repo}/revision/{rev}`,
 * `GET /api/models/{repo}/tree/{rev}?recursive=true`, `GET /{repo}/resolve/{rev}/{path}` (with
 * Range), and CivitAI's `GET /api/v1/models/{id}`, `GET /api/v1/model-versions/{id}`,
 * `GET /api/download/models/{versionId}`.
 */
export class FakeHub {
  readonly repos = new Map<string, HubRepo>();
  readonly civitai = new Map<number, CivitaiVersion>();
  /** Every request's method, path and Range header. */
  readonly requests: { url: string; range: string | undefined; auth: string | undefined }[] = [];
  readonly #server: Server;
  #dropped = new Set<string>();

  constructor() {
    this.#server = createServer((req, res) => this.#handle(req, res));
  }

  async listen(): Promise<string> {
    await new Promise<void>((resolve) => this.#server.listen(0, '127.0.0.1', resolve));
    return this.url;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  downloads(suffix: string): number {
    return this.requests.filter((r) => r.url.includes('/resolve/') && r.url.endsWith(suffix))
      .length;
  }

  #json(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  }

  #authorized(req: IncomingMessage, token: string | undefined): boolean {
    return token === undefined || req.headers.authorization === `Bearer ${token}`;
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://hub');
    this.requests.push({
      url: url.pathname,
      range: req.headers.range,
      auth: req.headers.authorization,
    });
    const p = decodeURIComponent(url.pathname);
    let m = /^\/api\/models\/([^/]+\/[^/]+)\/revision\/([^/]+)$/.exec(p);
    if (m) return this.#revision(req, res, m[1] ?? '');
    m = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/]+)(?:\/(.*))?$/.exec(p);
    if (m) return this.#tree(req, res, m[1] ?? '');
    m = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(p);
    if (m) return this.#resolve(req, res, m[1] ?? '', m[3] ?? '');
    m = /^\/api\/v1\/model-versions\/(\d+)$/.exec(p);
    if (m) return this.#civitaiVersion(req, res, Number(m[1]));
    m = /^\/api\/v1\/models\/(\d+)$/.exec(p);
    if (m) return this.#civitaiModel(req, res, Number(m[1]));
    m = /^\/api\/download\/models\/(\d+)$/.exec(p);
    if (m) {
      const version = this.civitai.get(Number(m[1]));
      if (!version) return this.#json(res, 404, { error: 'Model not found' });
      if (!this.#authorized(req, version.token))
        return this.#json(res, 401, { error: 'Unauthorized' });
      return this.#send(req, res, `civitai/${version.id}`, { data: version.data, lfs: true });
    }
    this.#json(res, 404, { error: 'no such route' });
  }

  #repo(req: IncomingMessage, res: ServerResponse, name: string): HubRepo | undefined {
    const repo = this.repos.get(name);
    if (!repo) {
      // Hugging Face answers 401 for a repo that does not exist (or is private) without a token.
      this.#json(res, 404, { error: 'Repository not found' });
      return undefined;
    }
    if (!this.#authorized(req, repo.token)) {
      this.#json(res, 401, { error: 'Access to this model is restricted' });
      return undefined;
    }
    if (repo.forbidden) {
      this.#json(res, 403, {
        error: `Access to model ${name} is restricted and you are not in the authorized list`,
      });
      return undefined;
    }
    return repo;
  }

  #revision(req: IncomingMessage, res: ServerResponse, name: string): void {
    const repo = this.#repo(req, res, name);
    if (!repo) return;
    this.#json(res, 200, {
      _id: `id-${name}`,
      id: name,
      sha: repo.sha,
      private: false,
      siblings: [...repo.files.keys()].map((rfilename) => ({ rfilename })),
    });
  }

  #tree(req: IncomingMessage, res: ServerResponse, name: string): void {
    const repo = this.#repo(req, res, name);
    if (!repo) return;
    this.#json(
      res,
      200,
      [...repo.files].map(([file, f]) => ({
        type: 'file',
        path: file,
        size: f.data.length,
        oid: gitSha1(f.data),
        ...(f.lfs ? { lfs: { oid: sha256(f.data), size: f.data.length, pointerSize: 130 } } : {}),
      })),
    );
  }

  #resolve(req: IncomingMessage, res: ServerResponse, name: string, file: string): void {
    const repo = this.#repo(req, res, name);
    if (!repo) return;
    const f = repo.files.get(file);
    if (!f) return this.#json(res, 404, { error: 'Entry not found' });
    this.#send(req, res, `${name}/${file}`, f);
  }

  #send(req: IncomingMessage, res: ServerResponse, key: string, f: HubFile): void {
    let data = f.data;
    if (f.corrupt) data = Buffer.from(data.map((b, i) => (i === 0 ? b ^ 0xff : b)));
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const start = range ? Number(range[1]) : 0;
    const body = data.subarray(start);
    res.writeHead(range ? 206 : 200, {
      'content-length': body.length,
      'accept-ranges': 'bytes',
      ...(range ? { 'content-range': `bytes ${start}-${data.length - 1}/${data.length}` } : {}),
    });
    const drop = f.alwaysDrop || (f.dropAfter !== undefined && !this.#dropped.has(key));
    if (drop) {
      this.#dropped.add(key);
      const cut = Math.min(f.dropAfter ?? 10, body.length - 1);
      res.write(body.subarray(0, cut), () => res.destroy());
      return;
    }
    if (f.gate) {
      const cut = Math.min(f.gate.after, body.length - 1);
      res.write(body.subarray(0, cut));
      void f.gate.open.then(() => res.end(body.subarray(cut)));
      return;
    }
    res.end(body);
  }

  #versionJson(version: CivitaiVersion): Record<string, unknown> {
    return {
      id: version.id,
      modelId: version.modelId,
      name: `v${version.id}`,
      baseModel: version.baseModel,
      model: { name: 'Fake model', type: 'Checkpoint' },
      files: [
        {
          id: version.id * 10,
          name: version.fileName,
          type: 'Model',
          primary: true,
          sizeKB: version.data.length / 1024,
          metadata: { format: 'SafeTensor', fp: 'fp16', size: 'pruned' },
          hashes: { SHA256: (version.sha256 ?? sha256(version.data)).toUpperCase() },
          downloadUrl: `${this.url}/api/download/models/${version.id}`,
        },
      ],
      downloadUrl: `${this.url}/api/download/models/${version.id}`,
    };
  }

  #civitaiVersion(_req: IncomingMessage, res: ServerResponse, id: number): void {
    const version = this.civitai.get(id);
    if (!version) return this.#json(res, 404, { error: `No model version with id ${id}` });
    this.#json(res, 200, this.#versionJson(version));
  }

  #civitaiModel(_req: IncomingMessage, res: ServerResponse, id: number): void {
    const versions = [...this.civitai.values()].filter((v) => v.modelId === id);
    if (versions.length === 0) return this.#json(res, 404, { error: `No model with id ${id}` });
    this.#json(res, 200, {
      id,
      name: 'Fake model',
      type: 'Checkpoint',
      modelVersions: versions.reverse().map((v) => this.#versionJson(v)),
    });
  }
}
