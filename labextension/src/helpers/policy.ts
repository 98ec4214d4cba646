/**
 * What a JupyterHub service's admin policy lets this user do, as the service decides it
 * (jupyter_mux/hub/policy.py), so the panel offers only what the service would accept.
 */
import type { IMe, ITarget } from '../types';

/**
 * A glob over "provider/model" as Python's `fnmatchcase` reads it (the service's rule):
 * `*` any run (slashes too), `?` one character, `[seq]` and `[!seq]` one of / none of;
 * an unclosed `[` is itself.
 */
export function globRegExp(glob: string): RegExp {
  let out = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === '*') {
      out += '.*';
    } else if (c === '?') {
      out += '.';
    } else if (c === '[') {
      const negate = glob[i + 1] === '!';
      const start = i + 1 + (negate ? 1 : 0);
      // A `]` first in the set is one of its characters, as in fnmatch.
      const close = glob.indexOf(']', glob[start] === ']' ? start + 1 : start);
      if (close < 0) {
        out += '\\[';
        continue;
      }
      const set = glob.slice(start, close).replace(/[\\\]^]/g, '\\$&');
      out += `[${negate ? '^' : ''}${set}]`;
      i = close;
    } else {
      out += c.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
    }
  }
  return new RegExp(`^${out}$`, 's');
}

// Each glob compiled once: a view asks for every model it lists, at every render.
const compiled = new Map<string, RegExp>();

/** Whether the user's policy allows `target`: every model off a Hub or without a list. */
export function modelAllowed(me: IMe | null, target: ITarget): boolean {
  const globs = me?.policy.allowed_models;
  if (!globs) {
    return true;
  }
  const name = `${target.provider}/${target.model}`;
  return globs.some(glob => {
    let re = compiled.get(glob);
    if (!re) {
      re = globRegExp(glob);
      compiled.set(glob, re);
    }
    return re.test(name);
  });
}
