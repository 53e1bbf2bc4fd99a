// Modules the host reaches through webpack aliases (see ../webpack.config.ts):
// setters Grafana core gets from @grafana/runtime's internal entry point.
declare module 'preview-internal/plugin-page' {
  import type { PluginPageType } from '@grafana/runtime';
  export function setPluginPage(component: PluginPageType): void;
}

declare module 'preview-internal/panel-renderer' {
  import type { PanelRendererProps } from '@grafana/runtime';
  import type { ComponentType } from 'react';
  export function setPanelRenderer(renderer: ComponentType<PanelRendererProps>): void;
}

declare module 'preview-internal/plugin-links' {
  import type { PluginExtensionLink } from '@grafana/data';
  import type { Observable } from 'rxjs';
  export function setGetObservablePluginLinks(
    fn: (options: {
      extensionPointId: string;
      context?: object;
      limitPerPlugin?: number;
    }) => Observable<PluginExtensionLink[]>
  ): void;
}

declare module 'preview-internal/plugin-components' {
  import type { PluginExtensionComponent } from '@grafana/data';
  import type { Observable } from 'rxjs';
  export function setGetObservablePluginComponents(
    fn: (options: { extensionPointId: string; limitPerPlugin?: number }) => Observable<PluginExtensionComponent[]>
  ): void;
}

// Shared with plugins as Grafana shares them; the host never calls into them.
declare module 'd3';
declare module 'slate';
declare module 'slate-react';
declare module 'slate-plain-serializer';
declare module 'prismjs';
