import { Dialog, showDialog } from '@jupyterlab/apputils';
import * as React from 'react';

import type { MuxModel } from '../model';

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

/** Text of an error thrown by the API client or anything else. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** An inline error message, announced to screen readers. */
export function ErrorText(props: { children: React.ReactNode }): JSX.Element | null {
  if (!props.children) {
    return null;
  }
  return (
    <div className="jp-mux-error" role="alert">
      {props.children}
    </div>
  );
}

/** A confirmation dialog; resolves true when accepted. */
export async function confirm(
  title: string,
  body: string,
  accept: string,
  danger = true
): Promise<boolean> {
  const result = await showDialog({
    title,
    body,
    buttons: [
      Dialog.cancelButton(),
      danger ? Dialog.warnButton({ label: accept }) : Dialog.okButton({ label: accept })
    ]
  });
  return result.button.accept;
}

/** An informative dialog with only an OK button. */
export async function inform(title: string, body: string): Promise<void> {
  await showDialog({ title, body, buttons: [Dialog.okButton()] });
}
