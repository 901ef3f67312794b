/**
 * Who is signed in to the console: the management core's principal (manage/principal.ts),
 * re-exported for the console's modules. What each principal may do is decided by the
 * authority table (manage/authority.ts), never here.
 */
export type { Principal } from "../principal";
export { actorOf, isPrincipal, orgsOf } from "../principal";
