/*
 * The smaller @grafana/runtime services, as far as the preview host can
 * honestly offer them.
 */
import {
  type DataSourceApi,
  type DataSourceInstanceSettings,
  type DataSourceRef,
  type ScopedVars,
  type TypedVariableModel,
  PluginType,
} from '@grafana/data';
import type { DataSourceSrv, EchoBackend, EchoEvent, EchoSrv, TemplateSrv } from '@grafana/runtime';

/** The stand-in dashboard's variables, which getTemplateSrv().replace() knows. */
export const dashboardVariables: Record<string, string> = {};

/** getTemplateSrv(): $var, ${var}, ${var:format} and [[var]] from scopedVars and the stand-in dashboard's variables. */
export class PreviewTemplateSrv implements TemplateSrv {
  getVariables(): TypedVariableModel[] {
    return [];
  }

  replace(target?: string, scopedVars?: ScopedVars): string {
    if (!target) {
      return target ?? '';
    }
    return target.replace(/\$(\w+)|\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)\]\]/g, (match, a, b, c) => {
      const name = a ?? b ?? c;
      const scoped = scopedVars?.[name];
      if (scoped) {
        return String(scoped.value);
      }
      if (name in dashboardVariables) {
        return dashboardVariables[name];
      }
      return match;
    });
  }

  containsTemplate(target?: string): boolean {
    return !!target && /\$\w+|\$\{\w+|\[\[\w+\]\]/.test(target);
  }

  updateTimeRange(): void {}
}

/** getDataSourceSrv(): knows the one Prometheus datasource by name; no datasource plugin runs here. */
export class PreviewDataSourceSrv implements DataSourceSrv {
  constructor(private readonly settings: DataSourceInstanceSettings) {}

  private matches(ref?: DataSourceRef | string | null): boolean {
    if (!ref) {
      return true;
    }
    if (typeof ref === 'string') {
      return ref === this.settings.uid || ref === this.settings.name;
    }
    return ref.uid === this.settings.uid || (!ref.uid && ref.type === this.settings.type);
  }

  get(ref?: DataSourceRef | string | null): Promise<DataSourceApi> {
    const what = typeof ref === 'string' ? ref : (ref?.uid ?? 'default');
    return Promise.reject(new Error(`datasource ${what}: the preview host runs no datasource plugins`));
  }

  getList(): DataSourceInstanceSettings[] {
    return [this.settings];
  }

  getInstanceSettings(ref?: DataSourceRef | string | null): DataSourceInstanceSettings | undefined {
    return this.matches(ref) ? this.settings : undefined;
  }

  reload(): Promise<void> {
    return Promise.resolve();
  }

  registerRuntimeDataSource(): void {}
}

export function prometheusSettings(uid: string): DataSourceInstanceSettings {
  return {
    id: 1,
    uid,
    type: 'prometheus',
    name: 'Prometheus (preview)',
    access: 'proxy',
    readOnly: true,
    jsonData: {},
    isDefault: true,
    meta: {
      id: 'prometheus',
      name: 'Prometheus',
      type: PluginType.datasource,
      module: '',
      baseUrl: '',
      info: {
        author: { name: 'Grafana Labs' },
        description: 'Prometheus (not queryable in the preview host)',
        links: [],
        logos: { small: '', large: '' },
        screenshots: [],
        updated: '',
        version: '',
      },
    },
  };
}

/** getEchoSrv(): interaction reports go nowhere (Grafana would send them to its analytics backends). */
export class PreviewEchoSrv implements EchoSrv {
  flush(): void {}
  addBackend(_backend: EchoBackend): void {}
  addEvent<T extends EchoEvent>(_event: Omit<T, 'meta'>): void {}
}
