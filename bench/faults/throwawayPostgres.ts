import { execFile } from "node:child_process";
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

/** The newest PostgreSQL server binaries installed the Debian way, if any. */
function binDir(): string | undefined {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, "bin", "initdb")))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], "bin");
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/**
 * A PostgreSQL cluster of its own, made for one scenario so it can be
 * restarted and crashed without touching anyone else's server. As root it
 * runs as the `postgres` user (the server refuses root).
 */
export class ThrowawayPostgres {
  private constructor(
    private readonly bin: string,
    private readonly dir: string,
    readonly url: string,
    private readonly asRoot: boolean,
    /** Server options: `pg_ctl start` does not remember them (only `restart` does). */
    private readonly serverOptions: string,
  ) {}

  /** Why no throwaway cluster can be made here, or undefined when one can. */
  static skipReason(): string | undefined {
    if (binDir()) return undefined;
    return "initdb not found under /usr/lib/postgresql/*/bin";
  }

  static async create(): Promise<ThrowawayPostgres> {
    const bin = binDir();
    if (!bin) throw new Error(ThrowawayPostgres.skipReason());
    const dir = mkdtempSync(join(tmpdir(), "flotilla-pg-"));
    const asRoot = userInfo().uid === 0;
    const port = await freePort();
    const pg = new ThrowawayPostgres(
      bin,
      dir,
      `postgres://postgres@127.0.0.1:${port}/postgres`,
      asRoot,
      `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1`,
    );
    try {
      if (asRoot) chownSync(dir, ...(await pg.postgresIds()));
      await pg.exec("initdb", [
        "-D",
        join(dir, "data"),
        "-A",
        "trust",
        "-U",
        "postgres",
        "--no-sync",
      ]);
      await pg.start();
      return pg;
    } catch (err) {
      await pg.destroy();
      throw err;
    }
  }

  private async postgresIds(): Promise<[number, number]> {
    const { stdout: uid } = await run("id", ["-u", "postgres"]);
    const { stdout: gid } = await run("id", ["-g", "postgres"]);
    return [Number(uid.trim()), Number(gid.trim())];
  }

  private async exec(tool: string, args: string[]): Promise<void> {
    const path = join(this.bin, tool);
    if (this.asRoot) await run("runuser", ["-u", "postgres", "--", path, ...args]);
    else await run(path, args);
  }

  /** Restarts the server: `fast` shuts down cleanly, `immediate` crashes it (recovery on start). */
  async restart(mode: "fast" | "immediate"): Promise<void> {
    const data = join(this.dir, "data");
    // `-l` again: without it the server writes to pg_ctl's stdout, which would never close.
    const log = join(this.dir, "log");
    if (mode === "fast")
      return this.exec("pg_ctl", ["-D", data, "-l", log, "-m", "fast", "-w", "restart"]);
    await this.exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    await this.start();
  }

  private start(): Promise<void> {
    const data = join(this.dir, "data");
    const log = join(this.dir, "log");
    return this.exec("pg_ctl", ["-D", data, "-o", this.serverOptions, "-l", log, "-w", "start"]);
  }

  /** Stops the server (if it runs) and deletes the cluster. */
  async destroy(): Promise<void> {
    const data = join(this.dir, "data");
    if (existsSync(join(data, "postmaster.pid")))
      await this.exec("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]).catch(
        () => undefined,
      );
    rmSync(this.dir, { recursive: true, force: true });
  }
}
