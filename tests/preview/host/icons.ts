/*
 * Grafana serves its icon set from public/build/img/icons/<dir>/<name>.svg.
 * The npm @grafana/ui ships only part of it, so the host's build fills in the
 * rest: Unicons "line" icons (Grafana's default set) from @iconify-json/uil,
 * a spinner, and a plain placeholder for Grafana's own custom icons (ai,
 * drilldown, gf-*, ...) that no package provides. Listed in the preview
 * host's limits: those custom icons do not look like Grafana's.
 */
import fs from 'fs';
import path from 'path';
import { type Compiler, sources } from 'webpack';

const SPINNER =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path d="M12 2a10 10 0 1 0 10 10h-2a8 8 0 1 1-8-8z"/></svg>';
const PLACEHOLDER =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><rect x="4" y="4" width="16" height="16" rx="3" fill="none" stroke="currentColor" stroke-width="2" stroke-dasharray="3 2"/></svg>';

interface IconifySet {
  icons: Record<string, { body: string; width?: number; height?: number }>;
  aliases?: Record<string, { parent: string }>;
  width?: number;
  height?: number;
}

export class GrafanaIconsPlugin {
  constructor(private readonly nodeModules: string) {}

  apply(compiler: Compiler) {
    compiler.hooks.thisCompilation.tap('GrafanaIconsPlugin', (compilation) => {
      compilation.hooks.processAssets.tap({ name: 'GrafanaIconsPlugin', stage: 0 }, () => {
        const uiIcons = path.join(this.nodeModules, '@grafana', 'ui', 'dist', 'public', 'img', 'icons');
        const have = (dir: string, name: string) => fs.existsSync(path.join(uiIcons, dir, `${name}.svg`));
        const emit = (file: string, svg: string) => compilation.emitAsset(file, new sources.RawSource(svg));
        const set = JSON.parse(
          fs.readFileSync(path.join(this.nodeModules, '@iconify-json', 'uil', 'icons.json'), 'utf8')
        ) as IconifySet;
        const svgOf = (name: string): string | undefined => {
          const icon = set.icons[name] ?? (set.aliases?.[name] ? set.icons[set.aliases[name].parent] : undefined);
          if (!icon) {
            return undefined;
          }
          const w = icon.width ?? set.width ?? 24;
          const h = icon.height ?? set.height ?? 24;
          return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${w} ${h}">${icon.body}</svg>`;
        };
        for (const name of [...Object.keys(set.icons), ...Object.keys(set.aliases ?? {})]) {
          const svg = svgOf(name);
          if (svg && !have('unicons', name)) {
            emit(`build/img/icons/unicons/${name}.svg`, svg);
          }
        }
        // Every name Grafana's Icon accepts (availableIconsIndex in @grafana/data).
        const iconTypes = fs.readFileSync(
          path.join(this.nodeModules, '@grafana', 'data', 'dist', 'esm', 'types', 'icon.mjs'),
          'utf8'
        );
        const index = iconTypes.match(/availableIconsIndex = \{([\s\S]*?)\};/);
        if (!index) {
          throw new Error('GrafanaIconsPlugin: availableIconsIndex not found in @grafana/data');
        }
        // Array.from, not spread: ts-node compiles this config for ES5.
        const names = Array.from(index[1].matchAll(/"?([a-z0-9-]+)"?: true/g), (m) => m[1]);
        for (const name of names) {
          if (['unicons', 'mono', 'custom', 'solid'].some((d) => have(d, name)) || svgOf(name)) {
            continue;
          }
          const svg = name === 'spinner' || name === 'fa-spinner' ? SPINNER : PLACEHOLDER;
          for (const dir of ['unicons', 'mono', 'custom']) {
            emit(`build/img/icons/${dir}/${name}.svg`, svg);
          }
        }
      });
    });
  }
}
