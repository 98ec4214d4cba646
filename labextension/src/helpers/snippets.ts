/** Ready-to-paste client snippets for the mux URL. */
import type { Trans } from './trans';

export interface ISnippet {
  id: string;
  title: string;
  language: string;
  code: string;
}

export function snippets(url: string, trans: Trans): ISnippet[] {
  return [
    {
      id: 'notebook',
      title: trans.__('From a notebook on this server'),
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
      title: trans.__('openai SDK'),
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
      title: trans.__('LangChain'),
      language: 'python',
      code: [
        'from langchain_openai import ChatOpenAI',
        '',
        `llm = ChatOpenAI(base_url="${url}", api_key=TOKEN, model="mux")`
      ].join('\n')
    },
    {
      id: 'jupyter-ai',
      title: trans.__('jupyter-ai'),
      language: 'text',
      code: [
        trans.__('Chat model: OpenAI (general interface)'),
        trans.__('Base API URL: %1', url),
        trans.__('Model name: mux (any name works)'),
        trans.__('OpenAI API key: your Jupyter token')
      ].join('\n')
    }
  ];
}
