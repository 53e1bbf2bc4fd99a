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
import type {
  DataSourceSrv,
  EchoBackend,
  EchoEvent,
  EchoSrv,
  GetDataSourceListFilters,
  TemplateSrv,
} from '@grafana/runtime';

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

/**
 * getDataSourceSrv(): the datasources the preview host plays (bootData's
 * settings.datasources, as Grafana builds it from its frontend settings),
 * which DataSourcePicker lists and resolves, plus the panel stand-in's
 * placeholder, resolvable by uid but not listed unless there is nothing else.
 * No datasource plugin runs here: get() cannot query.
 */
export class PreviewDataSourceSrv implements DataSourceSrv {
  private readonly list: DataSourceInstanceSettings[];

  constructor(
    datasources: Record<string, DataSourceInstanceSettings>,
    private readonly placeholder: DataSourceInstanceSettings
  ) {
    this.list = Object.values(datasources).sort((a, b) => a.name.localeCompare(b.name));
  }

  private all(): DataSourceInstanceSettings[] {
    return this.list.some((ds) => ds.uid === this.placeholder.uid) ? this.list : [...this.list, this.placeholder];
  }

  get(ref?: DataSourceRef | string | null): Promise<DataSourceApi> {
    const what = typeof ref === 'string' ? ref : (ref?.uid ?? 'default');
    return Promise.reject(new Error(`datasource ${what}: the preview host runs no datasource plugins`));
  }

  getList(filters: GetDataSourceListFilters = {}): DataSourceInstanceSettings[] {
    const types = filters.type === undefined ? undefined : Array.isArray(filters.type) ? filters.type : [filters.type];
    return this.list.filter((ds) => {
      if (types && !types.includes(ds.type)) {
        return false;
      }
      if (filters.pluginId && ds.meta.id !== filters.pluginId) {
        return false;
      }
      if (filters.metrics && !ds.meta.metrics) {
        return false;
      }
      if (filters.logs && !ds.meta.logs) {
        return false;
      }
      if (filters.tracing && !ds.meta.tracing) {
        return false;
      }
      if (filters.alerting && !ds.meta.alerting) {
        return false;
      }
      if (filters.annotations && !ds.meta.annotations) {
        return false;
      }
      return !filters.filter || filters.filter(ds);
    });
  }

  getInstanceSettings(ref?: DataSourceRef | string | null): DataSourceInstanceSettings | undefined {
    const all = this.all();
    if (!ref || ref === 'default') {
      return all.find((ds) => ds.isDefault) ?? all[0];
    }
    if (typeof ref === 'string') {
      return all.find((ds) => ds.uid === ref || ds.name === ref);
    }
    if (ref.uid) {
      return all.find((ds) => ds.uid === ref.uid || ds.name === ref.uid);
    }
    return all.find((ds) => ds.type === ref.type && ds.isDefault) ?? all.find((ds) => ds.type === ref.type);
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
