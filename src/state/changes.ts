import { EventEmitter } from "node:events";
import type { StateKey } from "../store/stateTypes.js";
import type { Store } from "../store/types.js";

/**
 * Writes made through this process, announced to its watchers at once;
 * writes by other processes are found by the watchers' polls (and, for a
 * suspended watcher, by the store waking its run).
 */
const emitters = new WeakMap<Store, EventEmitter>();

function emitter(store: Store): EventEmitter {
  let e = emitters.get(store);
  if (!e) {
    e = new EventEmitter();
    e.setMaxListeners(0);
    emitters.set(store, e);
  }
  return e;
}

const id = (at: StateKey) => JSON.stringify([at.region, at.scope, at.key]);

export function announceChange(store: Store, at: StateKey): void {
  emitters.get(store)?.emit(id(at));
}

/** Resolves when the key is written through this process, or after `ms`. */
export function changedOrPoll(store: Store, at: StateKey, ms: number): Promise<void> {
  const e = emitter(store);
  const name = id(at);
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      e.off(name, done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    e.on(name, done);
  });
}
