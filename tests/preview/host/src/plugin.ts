/*
 * Loads the app plugin as Grafana's importAppPlugin does: the plugin's
 * settings from /api/plugins/<id>/settings become its meta, module.js is
 * imported through the AMD loader, then plugin.init(meta) and plugin.meta.
 */
import { AppPlugin, type AppPluginMeta } from '@grafana/data';
import { getBackendSrv } from '@grafana/runtime';
import { importAmdModule } from './amd';
import { previewBoot } from './boot';
import { registerAppExtensions } from './extensions';

let loading: Promise<AppPlugin> | undefined;

export function getPluginMeta(pluginId: string): Promise<AppPluginMeta> {
  return getBackendSrv().get<AppPluginMeta>(`/api/plugins/${pluginId}/settings`, undefined, undefined, {
    showErrorAlert: false,
  });
}

/** The plugin, loaded once per page load. */
export function loadAppPlugin(): Promise<AppPlugin> {
  if (!loading) {
    loading = (async () => {
      const boot = previewBoot();
      const meta = await getPluginMeta(boot.pluginId);
      const exports = await importAmdModule(meta.module);
      const plugin = exports.plugin instanceof AppPlugin ? exports.plugin : new AppPlugin();
      plugin.init(meta);
      plugin.meta = meta;
      plugin.setComponentsFromLegacyExports(exports as unknown as System.Module);
      registerAppExtensions(plugin, boot.plugin);
      return plugin;
    })();
    loading.catch(() => {
      loading = undefined;
    });
  }
  return loading;
}
