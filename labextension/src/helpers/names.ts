/** Names of providers and workspaces, checked before the server sees them. */
import type { Trans } from './trans';

/** As the server validates them: they travel in URLs and headers. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why `name` is not a valid provider/workspace name, or null when it is. */
export function nameProblem(name: string, trans: Trans): string | null {
  if (!name) {
    return trans.__('A name is required.');
  }
  if (name.length > 64) {
    return trans.__('At most 64 characters.');
  }
  if (!NAME_PATTERN.test(name)) {
    return trans.__('Use letters, digits, ".", "_" or "-", starting with a letter or digit.');
  }
  return null;
}
