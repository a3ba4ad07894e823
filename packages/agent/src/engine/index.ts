export type { Action } from '../resources/types.js';
export { type ApplyOptions, applyBundle } from './apply.js';
export { checkResources, type ResourceDrift } from './check.js';
export type { EngineOptions } from './context.js';
export { DEFAULT_ROLLBACK_BUDGET_BYTES } from './journal.js';
export { type PlannedChange, planBundle } from './plan.js';
export { RenderedDigests } from './rendered.js';
