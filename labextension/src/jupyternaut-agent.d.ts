/**
 * The part of jupyterlite-ai's provider API that the Model Mux provider uses.
 *
 * `@jupyternaut/agent` (jupyterlite-ai's agent package, version 0.20) is not published on
 * npm: it reaches JupyterLab only inside the `jupyterlite-ai` Python package, whose
 * `@jupyternaut/persona` lab extension shares it as a singleton module. This extension
 * consumes that shared module at run time (`sharedPackages` in package.json: not bundled),
 * so these declarations stand in for its types at build time. They follow
 * packages/agent/src/tokens.ts and providers/models.ts of jupyterlite/ai.
 */
declare module '@jupyternaut/agent' {
  import type { Token } from '@lumino/coreutils';

  /** What a provider's factory is given (providers/models.ts). */
  export interface IModelOptions {
    provider: string;
    model?: string;
    apiKey?: string;
    headers?: Record<string, string>;
    baseURL?: string;
  }

  /** A provider as jupyterlite-ai lists it (tokens.ts, IProviderInfo). */
  export interface IProviderInfo {
    id: string;
    name: string;
    apiKeyRequirement: 'required' | 'optional' | 'none';
    defaultModels: string[];
    supportsBaseURL?: boolean;
    supportsHeaders?: boolean;
    supportsToolCalling?: boolean;
    description?: string;
    /** Returns an AI SDK `LanguageModel`. */
    factory: (options: IModelOptions) => unknown;
  }

  export interface IProviderRegistry {
    readonly providers: Record<string, IProviderInfo>;
    registerProvider(info: IProviderInfo): void;
    getProviderInfo(id: string): IProviderInfo | null;
  }

  export const IProviderRegistry: Token<IProviderRegistry>;
}
