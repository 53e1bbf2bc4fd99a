/*
 * Sets the @grafana/runtime services through the package's own setters,
 * before anything renders, as Grafana does at startup.
 */
import { EventBusSrv } from '@grafana/data';
import {
  config,
  setAppEvents,
  setBackendSrv,
  setDataSourceSrv,
  setEchoSrv,
  setGrafanaLiveSrv,
  setTemplateSrv,
} from '@grafana/runtime';
import { setPluginPage } from 'preview-internal/plugin-page';
import { setPanelRenderer } from 'preview-internal/panel-renderer';
import { previewBoot } from '../boot';
import { PreviewPluginPage } from '../chrome/PluginPage';
import { StandInPanelRenderer } from '../panel/StandInPanelRenderer';
import { installExtensionServices } from '../extensions';
import { PreviewBackendSrv } from './backendSrv';
import { PreviewLiveSrv } from './live';
import {
  PreviewDataSourceSrv,
  PreviewEchoSrv,
  PreviewTemplateSrv,
  dashboardVariables,
  prometheusSettings,
} from './misc';

export function installServices() {
  const boot = previewBoot();
  setAppEvents(new EventBusSrv());
  setBackendSrv(new PreviewBackendSrv());
  setEchoSrv(new PreviewEchoSrv());
  setTemplateSrv(new PreviewTemplateSrv());
  dashboardVariables.datasource = boot.datasourceUid;
  setDataSourceSrv(new PreviewDataSourceSrv(config.datasources, prometheusSettings(boot.datasourceUid)));
  setGrafanaLiveSrv(new PreviewLiveSrv());
  setPluginPage(PreviewPluginPage);
  setPanelRenderer(StandInPanelRenderer);
  installExtensionServices();
}
