import { readdir, readFile, readlink, realpath } from "node:fs/promises";

/**
 * The ids of processes on this machine that hold `path` open for writing (Linux: /proc/<pid>/fd and
 * fdinfo; elsewhere, or for processes this one may not inspect, nothing is found). A file still open
 * for writing is not taken from landing, however long its writer pauses: `cp`, `scp` and a program
 * streaming into the file all keep it open until the last byte. Writers on another machine (a network
 * share) or in another container are not seen: the checks of the content as it is read cover those.
 *
 * @example if ((await openForWriting("landing/trips.csv")).length > 0) { wait }
 */
export async function openForWriting(path: string): Promise<number[]> {
  if (process.platform !== "linux") return [];
  let target: string;
  let pids: string[];
  try {
    target = await realpath(path);
    pids = (await readdir("/proc")).filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const found: number[] = [];
  await Promise.all(
    pids.map(async (pid) => {
      let fds: string[];
      try {
        fds = await readdir(`/proc/${pid}/fd`);
      } catch {
        return; // gone, or not ours to inspect
      }
      for (const fd of fds) {
        const link = await readlink(`/proc/${pid}/fd/${fd}`).catch(() => "");
        if (link !== target) continue;
        const info = await readFile(`/proc/${pid}/fdinfo/${fd}`, "utf8").catch(() => "");
        const flags = /^flags:\s*([0-7]+)/m.exec(info);
        // O_ACCMODE: 0 read-only, 1 write-only, 2 read-write.
        if (flags && (parseInt(flags[1]!, 8) & 3) !== 0) {
          found.push(Number(pid));
          return;
        }
      }
    }),
  );
  return found.sort((a, b) => a - b);
}
