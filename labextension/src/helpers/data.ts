/** Stable JSON for change detection: the poller signals only real changes. */
export function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
