/** The sections of the main Model Mux view, in tab order; a later feature adds its own here. */
import * as React from 'react';

import type { Trans } from '../helpers/trans';
import type { MuxModel } from '../model';
import { ConnectView } from './ConnectView';
import { KeysView } from './KeysView';
import { ProvidersView } from './ProvidersView';
import { UsageView } from './UsageView';
import { WorkspacesView } from './WorkspacesView';

export interface ISectionProps {
  model: MuxModel;
  url: string;
}

export interface ISection {
  id: string;
  title: (trans: Trans) => string;
  render: (props: ISectionProps) => JSX.Element;
}

export const SECTIONS: ISection[] = [
  {
    id: 'workspaces',
    title: trans => trans.__('Workspaces'),
    render: props => <WorkspacesView model={props.model} />
  },
  {
    id: 'providers',
    title: trans => trans.__('Providers'),
    render: props => <ProvidersView model={props.model} />
  },
  {
    id: 'usage',
    title: trans => trans.__('Usage'),
    render: props => <UsageView model={props.model} />
  },
  {
    id: 'keys',
    title: trans => trans.__('Keys'),
    render: props => <KeysView model={props.model} />
  },
  {
    id: 'connect',
    title: trans => trans.__('Connect'),
    render: props => <ConnectView model={props.model} url={props.url} />
  }
];
