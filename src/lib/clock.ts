/**
 * The gateway's clock. Tests replace `clock.now` (vi.spyOn) to move time without sleeping;
 * nothing else should call Date.now() for decisions.
 */
export const clock = {
  now: (): number => Date.now(),
};
