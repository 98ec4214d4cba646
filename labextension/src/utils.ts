/** Pure helpers: no JupyterLab imports, so they are unit-tested in plain Node. */
import type { IProvider, ITarget, IWorkspace } from './types';

/** Names of providers and workspaces, as the server validates them. */
export const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Why `name` is not a valid provider/workspace name, or null when it is. */
export function nameProblem(name: string): string | null {
  if (!name) {
    return 'A name is required.';
  }
  if (name.length > 64) {
    return 'At most 64 characters.';
  }
  if (!NAME_PATTERN.test(name)) {
    return 'Use letters, digits, ".", "_" or "-", starting with a letter or digit.';
  }
  return null;
}

/** The mux's OpenAI-compatible URL for a server base URL (absolute or not). */
export function muxUrl(baseUrl: string, workspace?: string): string {
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  if (workspace) {
    return `${base}mux/w/${encodeURIComponent(workspace)}/v1`;
  }
  return `${base}mux/v1`;
}

/** A provider's models, as shown in the grouped model picker. */
export interface IModelGroup {
  provider: string;
  status: IProvider['status'];
  models: string[];
}

/**
 * The providers' models grouped by provider, keeping those that match `filter`
 * (case-insensitive; every whitespace-separated word must appear in "provider/model").
 * Providers without a matching model are left out; order is kept.
 */
export function groupModels(providers: IProvider[], filter = ''): IModelGroup[] {
  const words = filter.toLowerCase().split(/\s+/).filter(Boolean);
  const groups: IModelGroup[] = [];
  for (const p of providers) {
    const models = p.models.filter(m => {
      const hay = `${p.name}/${m}`.toLowerCase();
      return words.every(w => hay.includes(w));
    });
    if (models.length) {
      groups.push({ provider: p.name, status: p.status, models });
    }
  }
  return groups;
}

/** The value of a <option> for a target, and back. */
export function targetKey(target: ITarget): string {
  return JSON.stringify([target.provider, target.model]);
}

export function parseTargetKey(key: string): ITarget | null {
  try {
    const value = JSON.parse(key);
    if (Array.isArray(value) && value.length === 2 && value.every(v => typeof v === 'string')) {
      return { provider: value[0], model: value[1] };
    }
  } catch {
    // not a target
  }
  return null;
}

export function targetText(target: ITarget | null | undefined): string {
  return target ? `${target.provider}/${target.model}` : 'no model';
}

export function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

/** "ok · 3 models" or "error: <message>". */
export function providerStatusText(p: IProvider): string {
  if (p.status === 'error') {
    return `error: ${p.error || 'unknown error'}`;
  }
  return `ok · ${plural(p.models.length, 'model')}`;
}

/** The status bar's text: "workspace -> provider/model". */
export function statusBarText(active: IWorkspace | null | undefined): string {
  if (!active) {
    return 'mux: no workspace';
  }
  return `${active.name} -> ${targetText(active.preferred)}`;
}

/** The status bar's tooltip: adds the problem, if any. */
export function statusBarTitle(active: IWorkspace | null | undefined): string {
  if (!active) {
    return 'Model mux: no active workspace';
  }
  const base = `Model mux: workspace "${active.name}" uses ${targetText(active.preferred)}`;
  return active.problem ? `${base}. ${active.problem}` : `${base}. Click to switch.`;
}

/** The confirmation text before deleting a provider. */
export function deleteProviderMessage(p: IProvider): string {
  if (!p.used_by.length) {
    return `Delete provider "${p.name}"? No workspace uses it.`;
  }
  const list = p.used_by.map(w => `"${w}"`).join(', ');
  return (
    `Delete provider "${p.name}"? ${p.used_by.length === 1 ? 'Workspace' : 'Workspaces'} ` +
    `${list} use${p.used_by.length === 1 ? 's' : ''} it and will have no working model ` +
    'until you pick another one (or re-create a provider with this name).'
  );
}

/** Why a workspace cannot be deleted, or null if it can. */
export function deleteWorkspaceBlocker(ws: IWorkspace): string | null {
  return ws.is_active
    ? 'The active workspace cannot be deleted: activate another one first.'
    : null;
}

/** Ready-to-paste client snippets for a mux URL. */
export interface ISnippet {
  id: string;
  title: string;
  language: string;
  code: string;
}

export function snippets(url: string): ISnippet[] {
  return [
    {
      id: 'notebook',
      title: 'From a notebook on this server',
      language: 'python',
      code: [
        'import jupyter_mux',
        '',
        'client = jupyter_mux.openai_client()',
        'client.chat.completions.create(',
        '    model="mux", messages=[{"role": "user", "content": "Hi"}]',
        ')'
      ].join('\n')
    },
    {
      id: 'openai',
      title: 'openai SDK',
      language: 'python',
      code: [
        'from openai import OpenAI',
        '',
        '# api_key: your Jupyter token',
        `client = OpenAI(base_url="${url}", api_key=TOKEN)`,
        'client.chat.completions.create(',
        '    model="mux", messages=[{"role": "user", "content": "Hi"}]',
        ')'
      ].join('\n')
    },
    {
      id: 'langchain',
      title: 'LangChain',
      language: 'python',
      code: [
        'from langchain_openai import ChatOpenAI',
        '',
        `llm = ChatOpenAI(base_url="${url}", api_key=TOKEN, model="mux")`
      ].join('\n')
    },
    {
      id: 'jupyter-ai',
      title: 'jupyter-ai',
      language: 'text',
      code: [
        'Chat model: OpenAI (general interface)',
        `Base API URL: ${url}`,
        'Model name: mux (any name works)',
        'OpenAI API key: your Jupyter token'
      ].join('\n')
    }
  ];
}

/** Stable JSON for change detection (the poller only signals real changes). */
export function sameData(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}
