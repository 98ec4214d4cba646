/** Ready-to-paste client snippets for the mux, one per client dialect (docs/connect.md). */
import type { IKey, IKeyCreated } from '../types';
import { prefixText } from './keys';
import type { Trans } from './trans';

export interface ISnippet {
  id: string;
  title: string;
  language: 'python' | 'bash';
  code: string;
}

/**
 * The API key the snippets carry: a placeholder for the Jupyter token (`tokenKey`) until a
 * mux key is made for them in the Connect view (`createdKey`); see `connectKey`.
 */
export interface IConnectKey {
  /** What goes into the snippets as the API key. */
  value: string;
  /** Where the key comes from, in words (shown above the snippets). */
  description: string;
}

/**
 * The Jupyter token as the key, as a placeholder: the token grants everything on the
 * server (code, files, terminals), so it is never put on screen, where screenshots and
 * shared screens would carry it.
 */
export function tokenKey(trans: Trans): IConnectKey {
  return {
    value: '<your Jupyter token>',
    description: trans.__(
      'The snippets show a placeholder for the API key: create a mux key for your client below (your Jupyter token works too, but it grants everything on this server).'
    )
  };
}

/**
 * A mux key just made, as the key of the snippets: its secret, which the server shows
 * this once.
 */
export function createdKey(key: IKeyCreated, trans: Trans): IConnectKey {
  return {
    value: key.secret,
    description: trans.__(
      'The snippets carry the mux key "%1" (%2). Copy what you need now: you will not see its secret again, and the snippets go back to the placeholder when you leave this tab.',
      key.name,
      prefixText(key)
    )
  };
}

/**
 * The key of the snippets: the key made in this view while it still exists (`keys` is the
 * list as last polled, `null` before the first answer), else the token's placeholder.
 */
export function connectKey(
  created: IKeyCreated | null,
  keys: IKey[] | null,
  trans: Trans
): IConnectKey {
  if (created && (keys === null || keys.some(k => k.id === created.id))) {
    return createdKey(created, trans);
  }
  return tokenKey(trans);
}

/** The base URLs of each client family, from the mux's OpenAI URL (`…/mux/v1`). */
export interface IBaseUrls {
  /** OpenAI clients: `<server>/mux/v1`. */
  openai: string;
  /** Anthropic clients add `/v1/messages` themselves: `<server>/mux`. */
  anthropic: string;
  /** The OpenAI URL pinned to a workspace, with a `<workspace>` placeholder. */
  pinned: string;
}

export function baseUrls(muxV1Url: string): IBaseUrls {
  const openai = muxV1Url.replace(/\/+$/, '');
  const anthropic = openai.replace(/\/v1$/, '');
  return { openai, anthropic, pinned: `${anthropic}/w/<workspace>/v1` };
}

/** A Python string literal (JSON's double-quoted form is one, for what URLs and keys hold). */
function py(value: string): string {
  return JSON.stringify(value);
}

/** A shell word, single-quoted. */
function sh(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

const HELLO = 'messages=[{"role": "user", "content": "Hi"}]';

export function snippets(muxV1Url: string, key: IConnectKey, trans: Trans): ISnippet[] {
  const urls = baseUrls(muxV1Url);
  const client = (cls: string, url: string): string =>
    [
      `client = ${cls}(`,
      `    base_url=${py(url)},`,
      `    api_key=${py(key.value)},`,
      ')'
    ].join('\n');
  const openaiClient = client('OpenAI', urls.openai);
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
        `    model="mux", ${HELLO}`,
        ')'
      ].join('\n')
    },
    {
      id: 'openai',
      title: trans.__('OpenAI Python: chat completions'),
      language: 'python',
      code: [
        'from openai import OpenAI',
        '',
        openaiClient,
        'client.chat.completions.create(',
        `    model="mux", ${HELLO}`,
        ')'
      ].join('\n')
    },
    {
      id: 'responses',
      title: trans.__('OpenAI Python: Responses API'),
      language: 'python',
      code: [
        'from openai import OpenAI',
        '',
        openaiClient,
        'client.responses.create(model="mux", input="Hi").output_text'
      ].join('\n')
    },
    {
      id: 'anthropic',
      title: trans.__('Anthropic Python: Messages (base URL without /v1)'),
      language: 'python',
      code: [
        'from anthropic import Anthropic',
        '',
        client('Anthropic', urls.anthropic),
        'client.messages.create(',
        `    model="mux", max_tokens=1024, ${HELLO}`,
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
        'llm = ChatOpenAI(',
        `    base_url=${py(urls.openai)},`,
        `    api_key=${py(key.value)},`,
        '    model="mux",',
        '    # use_responses_api=True,  # for the Responses API',
        ')',
        'llm.invoke("Hi")'
      ].join('\n')
    },
    {
      id: 'embeddings',
      title: trans.__('Embeddings'),
      language: 'python',
      code: [
        'from openai import OpenAI',
        '',
        openaiClient,
        'client.embeddings.create(model="mux", input=["Hi"])',
        '',
        '# LangChain: OpenAIEmbeddings(base_url=..., api_key=...,',
        '#     model="mux", check_embedding_ctx_length=False)'
      ].join('\n')
    },
    {
      id: 'env',
      title: trans.__('Command-line tools: environment variables'),
      language: 'bash',
      code: [
        `export OPENAI_BASE_URL=${sh(urls.openai)}`,
        `export OPENAI_API_KEY=${sh(key.value)}`,
        `export ANTHROPIC_BASE_URL=${sh(urls.anthropic)}`,
        `export ANTHROPIC_AUTH_TOKEN=${sh(key.value)}`
      ].join('\n')
    }
  ];
}
