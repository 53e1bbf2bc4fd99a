import { config } from '@grafana/runtime';

/** Where the plugin lives and what the server told the page about it (window.grafanaBootData.preview). */
export interface PreviewBoot {
  pluginId: string;
  /** The built dist/plugin.json. */
  plugin: PluginJson;
  enabled: boolean;
  datasourceUid: string;
  grafanaVersion: string;
}

export interface PluginInclude {
  type: string;
  name: string;
  path?: string;
  /** Dashboards: the uid links use (/d/<uid>). */
  uid?: string;
  role?: string;
  action?: string;
  addToNav?: boolean;
  defaultNav?: boolean;
  icon?: string;
}

export interface PluginJson {
  id: string;
  name: string;
  info?: { version?: string; description?: string; logos?: { small?: string; large?: string } };
  includes?: PluginInclude[];
  extensions?: { addedLinks?: Array<{ title: string; description?: string; targets: string[] }> };
}

export type OrgRole = 'Viewer' | 'Editor' | 'Admin';

export const ROLES: OrgRole[] = ['Viewer', 'Editor', 'Admin'];

export function previewBoot(): PreviewBoot {
  return (config.bootData as unknown as { preview: PreviewBoot }).preview;
}

export function currentRole(): OrgRole {
  return config.bootData.user.orgRole as OrgRole;
}

/** Viewer < Editor < Admin, as Grafana ranks basic roles. */
export function roleAtLeast(role: OrgRole, min?: string): boolean {
  const rank: Record<string, number> = { Viewer: 1, Editor: 2, Admin: 3 };
  return rank[role] >= (rank[min ?? 'Viewer'] ?? 1);
}

/** The include paths in plugin.json carry %PLUGIN_ID% until the build replaces it. */
export function includePath(inc: PluginInclude, pluginId: string): string {
  return (inc.path ?? '').replace('%PLUGIN_ID%', pluginId);
}

export function setCookie(name: string, value: string) {
  document.cookie = `${name}=${encodeURIComponent(value)}; path=/; max-age=31536000; samesite=strict`;
}

export const ROLE_COOKIE = 'meshwatch_preview_role';
export const THEME_COOKIE = 'meshwatch_preview_theme';
