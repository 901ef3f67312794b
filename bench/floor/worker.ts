/**
 * The floor worker of `npm run bench` (target "floor"): bench/floor/floor.ts with every
 * step its own. See docs/performance.md ("The floor").
 */

import type { FloorContext, FloorEnv } from "./floor";
import { createFloor } from "./floor";

const floor = createFloor();

export default {
  fetch(request: Request, env: FloorEnv, ctx: FloorContext): Promise<Response> {
    return floor(request, env, ctx);
  },
};
