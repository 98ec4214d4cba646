import { Clipboard, Dialog, showDialog } from '@jupyterlab/apputils';
import { nullTranslator } from '@jupyterlab/translation';
import * as React from 'react';

import { sharedWorkspaceText } from '../helpers/texts';
import { TRANSLATION_DOMAIN, type Trans } from '../helpers/trans';
import type { MuxModel } from '../model';
import type { IMe } from '../types';

/** Re-render when the model changes. */
export function useModel(model: MuxModel): number {
  const [version, setVersion] = React.useState(0);
  React.useEffect(() => {
    const onChange = () => setVersion(v => v + 1);
    model.changed.connect(onChange);
    return () => {
      model.changed.disconnect(onChange);
    };
  }, [model]);
  return version;
}

/** The translation bundle of every view below (ITranslator's, else the null one). */
export const TransContext = React.createContext<Trans>(nullTranslator.load(TRANSLATION_DOMAIN));

export function useTrans(): Trans {
  return React.useContext(TransContext);
}

/**
 * Who the user is to a JupyterHub service (null on a plain server, or not known yet):
 * what their admin's policy allows, for the views that offer models and providers.
 */
export const MeContext = React.createContext<IMe | null>(null);

/**
 * Which editor is open: one at a time in a view, so opening one closes the other, and
 * Escape closes it (see `useEscapeCloses`).
 */
export interface IEditorState {
  current: string | null;
  open: (id: string | null) => void;
}

export const EditorContext = React.createContext<IEditorState>({
  current: null,
  open: () => undefined
});

/** [is `id` open, toggle it, close it]. */
export function useEditor(id: string): [boolean, () => void, () => void] {
  const editor = React.useContext(EditorContext);
  const isOpen = editor.current === id;
  return [isOpen, () => editor.open(isOpen ? null : id), () => editor.open(null)];
}

/** State for the one-editor-at-a-time rule, and a keydown handler that closes on Escape. */
export function useEditorState(): [IEditorState, (event: React.KeyboardEvent) => void] {
  const [current, setCurrent] = React.useState<string | null>(null);
  const state = React.useMemo(() => ({ current, open: setCurrent }), [current]);
  const onKeyDown = React.useCallback(
    (event: React.KeyboardEvent) => {
      if (event.key === 'Escape' && current !== null && !event.defaultPrevented) {
        event.preventDefault();
        event.stopPropagation();
        setCurrent(null);
      }
    },
    [current]
  );
  return [state, onKeyDown];
}

/** Text of an error thrown by the API client or anything else. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An inline error, announced to screen readers and scrolled into view when it appears. */
export function ErrorText(props: { children: React.ReactNode }): JSX.Element | null {
  const ref = React.useRef<HTMLDivElement>(null);
  React.useEffect(() => {
    ref.current?.scrollIntoView?.({ block: 'nearest' });
  }, [props.children]);
  if (!props.children) {
    return null;
  }
  return (
    <div ref={ref} className="jp-mux-error" role="alert">
      {props.children}
    </div>
  );
}

export type ButtonKind = 'accept' | 'reject' | 'warn' | 'plain';

/**
 * JupyterLab's own button styles (`jp-mod-styled` with accept, reject or warn): a primary
 * action is filled, so an enabled button never looks disabled. `plain` is for small
 * in-row actions (move, remove).
 */
export function MuxButton(
  props: React.ButtonHTMLAttributes<HTMLButtonElement> & { kind?: ButtonKind }
): JSX.Element {
  const { kind = 'reject', className, type, ...rest } = props;
  const classes = [
    'jp-mux-button',
    kind === 'plain' ? 'jp-mux-button-plain' : `jp-mod-styled jp-mod-${kind}`,
    className
  ]
    .filter(Boolean)
    .join(' ');
  return <button type={type ?? 'button'} className={classes} {...rest} />;
}

/** The marker of a workspace the Hub's admin shares; its tooltip says what that means. */
export function SharedBadge(): JSX.Element {
  const trans = useTrans();
  return (
    <span className="jp-mux-badge jp-mux-badge-shared" title={sharedWorkspaceText(trans)}>
      {trans.__('shared')}
    </span>
  );
}

/** A confirmation dialog; resolves true when accepted. */
export async function confirm(
  trans: Trans,
  title: string,
  body: string,
  accept: string
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton({ label: trans.__('Cancel') }),
      Dialog.warnButton({ label: accept })
    ]
  });
  return result.button.accept;
}

/** Copy `text` to the clipboard; says "Copied" for a moment. */
export function CopyButton(props: { text: string; label: string }): JSX.Element {
  const trans = useTrans();
  const [copied, setCopied] = React.useState(false);
  React.useEffect(() => {
    if (!copied) {
      return;
    }
    const t = window.setTimeout(() => setCopied(false), 1500);
    return () => window.clearTimeout(t);
  }, [copied]);
  return (
    <MuxButton
      aria-label={props.label}
      title={props.label}
      onClick={() => {
        Clipboard.copyToSystem(props.text);
        setCopied(true);
      }}
    >
      {copied ? trans.__('Copied') : trans.__('Copy')}
    </MuxButton>
  );
}
