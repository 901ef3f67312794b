import type { TestProject } from "vitest/node";
import { startOrigin } from "../scripts/origin";

declare module "vitest" {
  export interface ProvidedContext {
    originUrl: string;
  }
}

/** One real HTTP origin on loopback for the whole workers project. */
export default async function setup(project: TestProject) {
  const origin = await startOrigin();
  project.provide("originUrl", origin.url);
  return () => origin.close();
}
