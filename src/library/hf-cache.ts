import { existsSync } from 'node:fs';
import {
  mkdir,
  readdir,
  readFile,
  readlink,
  realpath,
  rm,
  symlink,
  writeFile,
} from 'node:fs/promises';
import path from 'node:path';

/**
 * The Hugging Face cache layout shared with `huggingface_hub` (Python) and `@huggingface/hub`:
 * `models--org--repo/blobs/<etag>` hold the bytes, `snapshots/<commit>/<path>` link to them,
 * `refs/<branch>` names a commit. What Python downloaded is found here, and it finds ours.
 */
export class HfCache {
  readonly repoDir: string;

  constructor(repoDir: string) {
    this.repoDir = repoDir;
  }

  static forRepo(cacheDir: string, repo: string): HfCache {
    return new HfCache(path.join(cacheDir, `models--${repo.split('/').join('--')}`));
  }

  blob(etag: string): string {
    return path.join(this.repoDir, 'blobs', etag);
  }

  snapshot(commit: string): string {
    return path.join(this.repoDir, 'snapshots', commit);
  }

  /** The commit a branch or tag points at here, or the commit itself when its snapshot exists. */
  async commitOf(revision: string): Promise<string | undefined> {
    if (/^[0-9a-f]{40}$/.test(revision))
      return existsSync(this.snapshot(revision)) ? revision : undefined;
    const ref = path.join(this.repoDir, 'refs', revision);
    const commit = await readFile(ref, 'utf8').then(
      (t) => t.trim(),
      () => undefined,
    );
    return commit !== undefined && existsSync(this.snapshot(commit)) ? commit : undefined;
  }

  async writeRef(revision: string, commit: string): Promise<void> {
    if (/^[0-9a-f]{40}$/.test(revision)) return;
    const ref = path.join(this.repoDir, 'refs', revision);
    await mkdir(path.dirname(ref), { recursive: true });
    await writeFile(ref, commit);
  }

  /** Links `snapshots/<commit>/<file>` to its blob (relative, as Python does). */
  async link(commit: string, file: string, etag: string): Promise<void> {
    const target = path.join(this.snapshot(commit), file);
    await mkdir(path.dirname(target), { recursive: true });
    await rm(target, { force: true });
    await symlink(path.relative(path.dirname(target), this.blob(etag)), target);
  }

  /** Files of a snapshot whose blobs are present, as repo paths (`unet/model.onnx`). */
  async files(commit: string): Promise<string[]> {
    const root = this.snapshot(commit);
    const out: string[] = [];
    const walk = async (dir: string): Promise<void> => {
      for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
        const full = path.join(dir, entry.name);
        if (entry.isDirectory()) await walk(full);
        else if (existsSync(full)) out.push(path.relative(root, full).split(path.sep).join('/'));
      }
    };
    await walk(root);
    return out;
  }

  async #blobsOf(commit: string): Promise<Set<string>> {
    const blobs = new Set<string>();
    for (const file of await this.files(commit)) {
      blobs.add(await realpath(path.join(this.snapshot(commit), file)));
    }
    return blobs;
  }

  /**
   * Deletes a snapshot, the refs naming it and the blobs no other snapshot uses (frees the disk);
   * the whole repo folder when nothing is left.
   */
  async removeSnapshot(commit: string): Promise<void> {
    const mine = await this.#blobsOf(commit);
    await rm(this.snapshot(commit), { recursive: true, force: true });
    const refsDir = path.join(this.repoDir, 'refs');
    for (const ref of await readdir(refsDir, { recursive: true }).catch(() => [] as string[])) {
      const file = path.join(refsDir, ref);
      const text = await readFile(file, 'utf8').catch(() => '');
      if (text.trim() === commit) await rm(file, { force: true });
    }
    const others = await readdir(path.join(this.repoDir, 'snapshots')).catch(() => [] as string[]);
    for (const other of others) for (const blob of await this.#blobsOf(other)) mine.delete(blob);
    for (const blob of mine) await rm(blob, { force: true });
    if (others.length === 0) await rm(this.repoDir, { recursive: true, force: true });
  }

  /** The snapshot commit a library link points into, if it points into this cache. */
  static async ofLink(link: string): Promise<{ cache: HfCache; commit: string } | undefined> {
    const target = await readlink(link).catch(() => undefined);
    if (target === undefined) return undefined;
    const match = /^(.*[/\\]models--[^/\\]+)[/\\]snapshots[/\\]([0-9a-f]{40})/.exec(
      path.resolve(path.dirname(link), target),
    );
    return match?.[1] && match[2] ? { cache: new HfCache(match[1]), commit: match[2] } : undefined;
  }
}
