// CPU time of processes from /proc (Linux), for benches that ask where a job's time goes.
import { readdirSync, readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ; 100 on every Linux this runs on). */
const TICKS_PER_S = 100;

interface ProcStat {
  readonly pid: number;
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, in milliseconds. */
  readonly cpuMs: number;
}

function stat(pid: number): ProcStat | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // `comm` is in parentheses and may hold spaces: the fields after its last ')' are fixed.
    const close = text.lastIndexOf(')');
    const comm = text.slice(text.indexOf('(') + 1, close);
    const f = text.slice(close + 2).split(' ');
    return {
      pid,
      ppid: Number(f[1]),
      comm,
      cpuMs: ((Number(f[11]) + Number(f[12])) * 1000) / TICKS_PER_S,
    };
  } catch {
    return undefined; // gone
  }
}

function all(): ProcStat[] {
  return readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .flatMap((name) => stat(Number(name)) ?? []);
}

/**
 * CPU milliseconds per role: each root pid with its descendants (a worker node's inference
 * children count as `<role> children`), plus any named extra pids (PostgreSQL backends).
 */
export function cpuByRole(
  roots: ReadonlyMap<number, string>,
  extra: ReadonlyMap<number, string> = new Map(),
): Map<string, number> {
  const procs = all();
  const byPid = new Map(procs.map((p) => [p.pid, p]));
  const out = new Map<string, number>();
  const add = (role: string, ms: number) => out.set(role, (out.get(role) ?? 0) + ms);
  for (const p of procs) {
    const direct = roots.get(p.pid) ?? extra.get(p.pid);
    if (direct !== undefined) {
      add(direct, p.cpuMs);
      continue;
    }
    // A descendant of a root: attributed to it as its children.
    for (let up = byPid.get(p.ppid); up; up = byPid.get(up.ppid)) {
      const role = roots.get(up.pid);
      if (role !== undefined) {
        add(`${role} children`, p.cpuMs);
        break;
      }
      if (up.ppid === 0 || up.pid === up.ppid) break;
    }
  }
  return out;
}

/** Named processes' CPU ms (a shared server: `redis-server`), whoever else uses them. */
export function cpuOfCommand(comm: string): number {
  return all()
    .filter((p) => p.comm === comm)
    .reduce((sum, p) => sum + p.cpuMs, 0);
}

/** `after − before` per role, divided by `jobs`: "role 12.3" pairs, largest first. */
export function perJob(
  before: ReadonlyMap<string, number>,
  after: ReadonlyMap<string, number>,
  jobs: number,
): string {
  return [...after]
    .map(([role, ms]) => [role, (ms - (before.get(role) ?? 0)) / jobs] as const)
    .filter(([, ms]) => ms > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([role, ms]) => `${role} ${ms.toFixed(1)}`)
    .join(', ');
}
