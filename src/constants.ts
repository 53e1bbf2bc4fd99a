import pluginJson from '../plugin.json';

export const PLUGIN_ID = pluginJson.id;
export const PLUGIN_BASE_URL = `/a/${PLUGIN_ID}`;
export const RESOURCES_URL = `/api/plugins/${PLUGIN_ID}/resources`;

export enum ROUTES {
  Incidents = 'incidents',
  Canaries = 'canaries',
  Audit = 'audit',
}
