/** URLs: the mux's own, and the provider endpoints a user types. */

/** The mux's OpenAI-compatible URL for a server base URL (absolute or not). */
export function muxUrl(baseUrl: string, workspace?: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  if (workspace) {
    return `${base}mux/w/${encodeURIComponent(workspace)}/v1`;
  }
  return `${base}mux/v1`;
}

/** The host (and port) of an endpoint, lower-cased; null when it is not a URL yet. */
export function endpointHost(endpoint: string): string | null {
  try {
    return new URL(endpoint.trim()).host.toLowerCase() || null;
  } catch {
    return null;
  }
}

/**
 * Whether saving `next` as the endpoint moves a provider to another host: the server then
 * drops the stored key (it was meant for the old host) unless a new key comes with it.
 */
export function hostChanged(current: string, next: string): boolean {
  const a = endpointHost(current);
  const b = endpointHost(next);
  return a !== null && b !== null && a !== b;
}
