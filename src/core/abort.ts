/** A controller that also aborts when `parent` does; `dispose` unhooks it from the parent. */
export interface LinkedAbort {
  readonly controller: AbortController;
  readonly dispose: () => void;
}

/**
 * Links a new controller under `parent`. The listener on the parent is
 * removed by `dispose` (call it when the child's work settles), so a run
 * that makes thousands of calls does not pile listeners on its signal.
 */
export function linkedAbort(parent: AbortSignal): LinkedAbort {
  const controller = new AbortController();
  const onAbort = () => controller.abort(parent.reason);
  if (parent.aborted) onAbort();
  else parent.addEventListener("abort", onAbort, { once: true });
  return { controller, dispose: () => parent.removeEventListener("abort", onAbort) };
}
