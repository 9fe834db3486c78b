import { HashRouter } from "./hash-router.js";
import { KMeansRouter } from "./kmeans-router.js";
import type { Router, RouterState } from "./router.js";

/** Rebuilds a router from the state a saved index recorded. */
export function routerFromJSON(state: RouterState): Router {
  switch (state.strategy) {
    case "hash-fanout":
      return new HashRouter("full", { shards: state.shards, seed: state.seed });
    case "hash-adaptive":
      return new HashRouter("adaptive", {
        shards: state.shards,
        seed: state.seed,
        margin: state.margin,
      });
    case "kmeans":
    case "kmeans-replicated":
      return KMeansRouter.fromJSON(state);
  }
}
