/**
 * The "Model Mux" provider for jupyterlite-ai (PyPI `jupyterlite-ai`, which also runs in
 * JupyterLab): when jupyterlite-ai is installed, its chat can answer with this server's
 * mux, that is the active workspace's model.
 *
 * Same origin, no key in the browser: the provider's requests go to
 * `<base url>mux/v1/chat/completions` through JupyterLab's `ServerConnection`, which sends
 * the page's own Jupyter credentials (the session cookie and `X-XSRFToken`, or the token
 * the page was opened with), as every JupyterLab request does. Nothing is stored in
 * jupyterlite-ai's settings but the provider's id and the model name.
 *
 * jupyterlite-ai is optional: its registry's token lives in `@jupyternaut/agent`, a module
 * that only jupyterlite-ai's lab extensions provide, so it is imported when this runs and
 * a missing jupyterlite-ai leaves nothing but a debug line.
 */
import type { JupyterFrontEnd } from '@jupyterlab/application';
import { PageConfig, URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { nullTranslator, TranslationBundle } from '@jupyterlab/translation';
import type { IModelOptions, IProviderInfo, IProviderRegistry } from '@jupyternaut/agent';

import { TRANSLATION_DOMAIN } from './helpers/trans';

/** The provider's id in jupyterlite-ai's registry and settings. */
export const PROVIDER_ID = 'jupyter-mux';

/** The model name sent: a placeholder, the mux's workspace chooses the model. */
export const DEFAULT_MODEL = 'mux';

/**
 * A `fetch` that sends the request through `ServerConnection.makeRequest`, so that it
 * carries the page's Jupyter credentials (cookie + XSRF header, or token) and nothing
 * else authenticates it.
 */
export function muxFetch(
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): typeof fetch {
  return (input: RequestInfo | URL, init?: RequestInit): Promise<Response> => {
    const url =
      typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
    // makeRequest adds a cache-busting query to the URL under its default 'no-store'; POSTs
    // are not cached anyway.
    return ServerConnection.makeRequest(url, { cache: 'no-cache', ...init }, settings);
  };
}

type CreateOpenAICompatible =
  typeof import('@ai-sdk/openai-compatible').createOpenAICompatible;

/** The provider's description for jupyterlite-ai's registry. */
export function muxProvider(
  createOpenAICompatible: CreateOpenAICompatible,
  baseUrl: string = PageConfig.getBaseUrl(),
  fetchImpl: typeof fetch = muxFetch(),
  trans: TranslationBundle = nullTranslator.load(TRANSLATION_DOMAIN)
): IProviderInfo {
  const mux = URLExt.join(baseUrl, 'mux', 'v1');
  return {
    id: PROVIDER_ID,
    name: trans.__('Model Mux'),
    apiKeyRequirement: 'none',
    defaultModels: [DEFAULT_MODEL],
    supportsBaseURL: false,
    supportsHeaders: false,
    supportsToolCalling: true,
    description: trans.__(
      "This Jupyter server's model mux: the active workspace's model, with your Jupyter login (no API key)"
    ),
    factory: (options: IModelOptions) =>
      createOpenAICompatible({
        name: PROVIDER_ID,
        baseURL: mux,
        fetch: fetchImpl,
        includeUsage: true
      })(options.model || DEFAULT_MODEL)
  };
}

/**
 * Register the Model Mux provider when jupyterlite-ai's provider registry is there.
 * Answers whether it was registered.
 */
export async function registerWithLiteAi(
  app: JupyterFrontEnd,
  trans?: TranslationBundle
): Promise<boolean> {
  let registry: IProviderRegistry | null;
  try {
    const agent = await import('@jupyternaut/agent');
    registry = await app.resolveOptionalService(agent.IProviderRegistry);
  } catch (reason) {
    console.debug('jupyter-mux: jupyterlite-ai is not installed', reason);
    return false;
  }
  if (!registry) {
    return false;
  }
  const { createOpenAICompatible } = await import('@ai-sdk/openai-compatible');
  if (!registry.getProviderInfo(PROVIDER_ID)) {
    registry.registerProvider(
      muxProvider(createOpenAICompatible, PageConfig.getBaseUrl(), muxFetch(), trans)
    );
  }
  return true;
}
