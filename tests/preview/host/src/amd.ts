/*
 * A small AMD loader for one plugin module, the way Grafana's SystemJS (with
 * its AMD extra) loads dist/module.js:
 *   - module.js is fetched as a <script> and calls define(deps, factory);
 *   - each dependency is one of Grafana's shared modules (sharedDependencies.ts),
 *     or one of AMD's special names: "module" ({id, uri} — the plugin derives
 *     its webpack public path from uri, so its lazy chunks load from
 *     /public/plugins/<id>/), "exports" and "require";
 *   - a shared module marked __useDefault is passed as its default export.
 * The plugin's lazy chunks are then loaded by the plugin's own webpack
 * runtime (script tags with SRI hashes) from that public path.
 */
import { resolveSharedDependency } from './sharedDependencies';

type Factory = (...deps: unknown[]) => unknown;
type Define = ((...args: unknown[]) => void) & { amd: object };

interface Definition {
  deps: string[];
  factory: Factory | object;
}

function readDefine(args: unknown[]): Definition {
  // define(factory) | define(deps, factory) | define(id, deps, factory) | define(id, factory)
  const rest = typeof args[0] === 'string' ? args.slice(1) : args;
  if (Array.isArray(rest[0])) {
    return { deps: rest[0] as string[], factory: rest[1] as Factory };
  }
  return { deps: ['require', 'exports', 'module'], factory: rest[0] as Factory };
}

function injectScript(url: string): Promise<Definition> {
  return new Promise((resolve, reject) => {
    const script = document.createElement('script');
    let definition: Definition | undefined;
    const w = window as unknown as { define?: Define };
    const previous = w.define;
    const define = ((...args: unknown[]) => {
      if (document.currentScript !== script) {
        throw new Error(`define() called by a script other than ${url}`);
      }
      definition = readDefine(args);
    }) as Define;
    define.amd = {};
    w.define = define;
    const done = () => {
      w.define = previous;
      script.onload = null;
      script.onerror = null;
    };
    script.onload = () => {
      done();
      if (!definition) {
        reject(new Error(`${url} loaded but did not call define(): is it an AMD module?`));
        return;
      }
      resolve(definition);
    };
    script.onerror = () => {
      done();
      reject(new Error(`could not load ${url}`));
    };
    script.src = url;
    script.async = true;
    document.head.appendChild(script);
  });
}

/** Loads an AMD module (the plugin's module.js) and returns its exports. */
export async function importAmdModule(path: string): Promise<Record<string, unknown>> {
  const url = new URL(path, document.baseURI).href;
  const { deps, factory } = await injectScript(url);
  const exports: Record<string, unknown> = {};
  const moduleMeta = { id: url, uri: url, exports };
  const resolved = await Promise.all(
    deps.map(async (dep) => {
      switch (dep) {
        case 'module':
          return moduleMeta;
        case 'exports':
          return exports;
        case 'require':
          return (name: string) => {
            throw new Error(`synchronous require('${name}') is not supported by the preview host's AMD loader`);
          };
        default:
          return resolveSharedDependency(dep, url);
      }
    })
  );
  const result = typeof factory === 'function' ? (factory as Factory)(...resolved) : factory;
  return (result ?? moduleMeta.exports) as Record<string, unknown>;
}
