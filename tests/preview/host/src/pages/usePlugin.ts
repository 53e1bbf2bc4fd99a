import { useEffect, useState } from 'react';
import type { AppPlugin } from '@grafana/data';
import { loadAppPlugin } from '../plugin';

export type PluginState = { plugin?: AppPlugin; error?: Error };

/** Loads the plugin (once per page load) for a page. */
export function useAppPlugin(): PluginState {
  const [state, setState] = useState<PluginState>({});
  useEffect(() => {
    let live = true;
    loadAppPlugin().then(
      (plugin) => live && setState({ plugin }),
      (error: Error) => live && setState({ error })
    );
    return () => {
      live = false;
    };
  }, []);
  return state;
}
