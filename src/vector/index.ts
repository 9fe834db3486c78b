export { VectorIndexError } from "./errors.js";
export { ShardedIndex, type ShardedIndexOptions, type SearchOptions } from "./sharded-index.js";
export type { SearchResult, SearchEvent, Disposable } from "./search-result.js";
export type { Router, RouterState, ShardTask, SearchKnobs, StrategyName } from "./router.js";
export { HashRouter, type HashRouterOptions } from "./hash-router.js";
export { KMeansRouter, type KMeansRouterOptions } from "./kmeans-router.js";
export { routerFromJSON } from "./router-state.js";
export { FlatIndex } from "./flat-index.js";
export { mergeTopK, type MergedHits, type ShardHits } from "./merge.js";
export {
  RecallMonitor,
  type RecallMonitorOptions,
  type RecallSnapshot,
  type ShardSignal,
} from "./recall-monitor.js";
export { recallAtK, meanInterval } from "./recall.js";
export {
  retrievalTool,
  type RetrievalToolOptions,
  type RetrievalToolSpec,
} from "./retrieval-tool.js";
export { clusteredData, type ClusteredData } from "./synthetic.js";
export type { Space } from "./distance.js";
