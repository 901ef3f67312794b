/**
 * The gateway: admit.ts decides (an Admission, no HTTP), handler.ts forwards or renders
 * (createGateway), respond.ts renders refusals and writes the access-log fields,
 * isolate.ts holds the one per-isolate state object.
 */
export { admit, authenticate, FORWARDED_METHODS } from "./admit";
export type { Admission, AdmitDeps, Facts, Forward, Refusal } from "./admit";
export { createGateway, gatewayFor } from "./handler";
export { isolateOf, ISOLATE_STATE, newIsolateState } from "./isolate";
export type { IsolateState, KeyCache } from "./isolate";
export { reject } from "./respond";
