/*
 * The modules the host shares with plugins, as Grafana's
 * sharedDependenciesMap does: exactly the externals of
 * .config/bundler/externals.ts that npm can provide, from the real packages.
 * The three @grafana packages are the very instances the host itself uses
 * (so the setters in services/ reach the plugin); the others load on demand.
 *
 * Not provided: "angular" (Grafana >= 12 removed AngularJS support) and the
 * legacy "grafana/app/..." core paths. A plugin asking for one fails loudly.
 */
import * as grafanaData from '@grafana/data';
import * as grafanaRuntime from '@grafana/runtime';
import * as grafanaUI from '@grafana/ui';

type Shared = object | (() => Promise<object>);

/** __useDefault: the AMD factory gets the default export (CommonJS packages), as with Grafana's SystemJS. */
const useDefault = (load: () => Promise<{ default: unknown }>) => async () => ({
  ...(await load()),
  __useDefault: true,
});

export const sharedDependencies: Record<string, Shared> = {
  '@emotion/css': () => import('@emotion/css'),
  '@emotion/react': () => import('@emotion/react'),
  emotion: () => import('@emotion/css'),
  '@grafana/data': grafanaData,
  '@grafana/data/unstable': () => import('@grafana/data/unstable'),
  '@grafana/runtime': grafanaRuntime,
  '@grafana/runtime/unstable': () => import('@grafana/runtime/unstable'),
  '@grafana/ui': grafanaUI,
  '@grafana/ui/unstable': () => import('@grafana/ui/unstable'),
  '@grafana/slate-react': () => import('slate-react'),
  d3: () => import('d3'),
  i18next: () => import('i18next'),
  jquery: useDefault(() => import('jquery')),
  lodash: useDefault(() => import('lodash')),
  moment: useDefault(() => import('moment')),
  prismjs: () => import('prismjs'),
  react: () => import('react'),
  'react/jsx-runtime': () => import('react/jsx-runtime'),
  'react/jsx-dev-runtime': () => import('react/jsx-dev-runtime'),
  'react-dom': () => import('react-dom'),
  'react-redux': () => import('react-redux'),
  // Grafana exposes react-router v6 under "react-router"; plugins bundle
  // react-router-dom v6 on top of it and so share the host's router context.
  'react-router': () => import('react-router'),
  redux: () => import('redux'),
  rxjs: () => import('rxjs'),
  'rxjs/operators': () => import('rxjs/operators'),
  slate: () => import('slate'),
  'slate-plain-serializer': () => import('slate-plain-serializer'),
};

/** The module a plugin's AMD dependency resolves to. */
export async function resolveSharedDependency(name: string, requestedBy: string): Promise<unknown> {
  const entry = sharedDependencies[name];
  if (!entry) {
    throw new Error(
      `${requestedBy} depends on "${name}", which the preview host does not share (nor does Grafana >= 12 for angular and legacy core paths)`
    );
  }
  const mod = (typeof entry === 'function' ? await entry() : entry) as { __useDefault?: boolean; default?: unknown };
  return mod.__useDefault ? mod.default : mod;
}
