/*
 * npm and npx start a bin through `sh -c`, and forward SIGTERM to that shell
 * only. dash (Debian's and Ubuntu's sh) neither passes the signal on nor
 * replaces itself with the command: it dies, and the node process it started
 * runs on, orphaned (re-parented to init), with its runs still leased. So a
 * command started by a package manager follows its parent: when the parent
 * goes, it stops as it would on SIGTERM. Started any other way (a service
 * manager, `nohup … &` from a shell that then exits) it does not: outliving
 * the shell is then what was asked for.
 */

/** True when a package manager started this process (npx, npm exec, npm/yarn/pnpm run). */
export function startedByPackageManager(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.npm_lifecycle_event !== undefined;
}

/** Calls `gone` once this process's parent has exited; returns a function that stops watching. */
export function whenParentExits(gone: () => void, everyMs = 500): () => void {
  const parent = process.ppid;
  const timer = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(timer);
    gone();
  }, everyMs);
  timer.unref();
  return () => clearInterval(timer);
}
